// The nemeses: each injects real faults into a running topology for a window of time and
// records what it did, including when a takeover of an instance is by design (it was paused,
// or cut off from the coordinator log), for the checker.
import { randomBytes, randomUUID } from "node:crypto";
import { SESSION_COOKIE } from "../../server/auth/sessions";
import { createUser } from "../../server/auth/users";
import { connectDatabase } from "../../server/db/prisma";
import { errorMessage } from "../../server/errors";
import type { FaultProxy } from "../../server/testing/faultProxy";
import type { ChaosNemesis } from "../cli";
import { KILL_POINTS } from "./protocol";
import type { ClockShiftedRedis } from "../../server/testing/clockShiftedRedis";
import { LEASE_MS, type EngineHandle, type Topology } from "./topology";

export { CHAOS_NEMESES as NEMESES } from "../cli";
export type NemesisName = ChaosNemesis;

/** The operator user the nemesis creates in deployment A's (fresh) coordinator database. */
export const OPERATOR = { name: "chaos-operator" };
/** An operator action answers well within this, or counts as no answer. */
const HTTP_TIMEOUT_MS = 30_000;

export interface OperatorAttempt {
  action: "force-abort" | "force-commit" | "retry";
  tx: string;
  outcome: string;
}

export interface FaultRecord {
  faults: number;
  /** A takeover of `instance` between from and to is by design (paused, or cut off from the log). */
  excused: { instance: string; from: number; to: number }[];
  /** Operator actions that reached the action (answered 2xx or 409): each must be audited. */
  operator: OperatorAttempt[];
  /** Operator actions answered by status, e.g. "force-abort 409" → n. */
  operatorAnswers: Record<string, number>;
  /** The console's failures: a 5xx or no answer to an operator action. */
  operatorErrors: string[];
  /** Redis lost its data in this run: consumer state kept in Redis is gone too. */
  redisDataLoss: boolean;
  notes: string[];
}

export interface NemesisContext {
  topo: Topology;
  redis: ClockShiftedRedis;
  rng: () => number;
  windowMs: number;
  record: FaultRecord;
  log(line: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function newRecord(): FaultRecord {
  return { faults: 0, excused: [], operator: [], operatorAnswers: {}, operatorErrors: [], redisDataLoss: false, notes: [] };
}

/** Runs `nemesis` for the context's window. */
export async function runNemesis(name: NemesisName, ctx: NemesisContext): Promise<void> {
  const until = Date.now() + ctx.windowMs;
  const between = () => sleep(300 + ctx.rng() * 900);
  if (name === "operator") return operatorNemesis(ctx);
  while (Date.now() < until - 1_000) {
    await between();
    await FAULTS[name](ctx);
  }
}

/** Ends every fault: proxies healed and honest again, paused engines resumed, Redis's clock true. */
export async function healAll(ctx: NemesisContext): Promise<void> {
  for (const e of ctx.topo.engines) {
    for (const p of proxiesOf(e)) {
      p.stopLosingReplies();
      if (p.partitioned) p.heal();
    }
    if (e.child.paused && !e.child.exit) {
      e.child.kill("SIGCONT");
      e.child.paused = false;
    }
  }
  ctx.redis.setClockOffsetMs(0);
}

const proxiesOf = (e: EngineHandle): FaultProxy[] => [e.proxies.log, e.proxies.redis, ...e.proxies.shards.values()];

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

/** One live, running engine, or all of them. */
function targets(ctx: NemesisContext, allowAll = true): EngineHandle[] {
  const live = ctx.topo.liveEngines().filter((e) => !e.child.paused);
  if (live.length === 0) return [];
  return allowAll && ctx.rng() < 0.4 ? live : [pick(ctx.rng, live)];
}

function excuse(ctx: NemesisContext, engines: EngineHandle[], from: number, to: number): void {
  for (const e of engines) if (e.child.instance) ctx.record.excused.push({ instance: e.child.instance, from, to });
}

async function partition(
  ctx: NemesisContext,
  what: string,
  choose: (e: EngineHandle) => FaultProxy,
  excused: boolean,
): Promise<void> {
  const engines = targets(ctx);
  if (!engines.length) return;
  const proxies = engines.map(choose);
  const from = Date.now();
  const holdMs = 1_000 + ctx.rng() * 3_000;
  for (const p of proxies) p.partition();
  ctx.record.faults++;
  await sleep(holdMs);
  const reset = ctx.rng() < 0.3;
  for (const p of proxies) p.heal({ reset });
  if (excused) excuse(ctx, engines, from, Date.now() + LEASE_MS + 1_000);
  ctx.record.notes.push(
    `${what} of ${engines.map((e) => e.child.name).join(",")} for ${Math.round(holdMs)} ms${reset ? ", connections reset" : ""}`,
  );
}

const FAULTS: Record<Exclude<NemesisName, "operator">, (ctx: NemesisContext) => Promise<void>> = {
  async kill(ctx) {
    const live = ctx.topo.liveEngines().filter((e) => !e.child.paused);
    if (live.length === 0) return;
    const victim = pick(ctx.rng, live);
    const mode = pick(ctx.rng, ["random", ...KILL_POINTS] as const);
    victim.child.killExpected = true;
    if (mode === "random") {
      await sleep(ctx.rng() * 500);
      victim.child.kill("SIGKILL");
    } else {
      victim.child.send({ cmd: "arm-kill", at: mode, occurrence: 1 + Math.floor(ctx.rng() * 3) });
      // A step that does not come soon (no commits reach it) gets a plain kill.
      if (!(await victim.child.exited(3_000))) victim.child.kill("SIGKILL");
    }
    await victim.child.exited(5_000);
    ctx.record.faults++;
    ctx.record.notes.push(`killed ${victim.child.name} (${mode})`);
    // Keep the deployment at strength: a replacement comes up while the peers take over.
    await ctx.topo.addEngine().catch((err: unknown) => ctx.log(`  replacement engine failed to start: ${errorMessage(err)}`));
  },

  async pause(ctx) {
    const [victim] = targets(ctx, false);
    if (!victim) return;
    const from = Date.now();
    const pauseMs = LEASE_MS + 1_000 + ctx.rng() * 1_500;
    victim.child.paused = true;
    victim.child.kill("SIGSTOP");
    ctx.record.faults++;
    await sleep(pauseMs);
    if (!victim.child.exit) victim.child.kill("SIGCONT");
    victim.child.paused = false;
    // A zombie coordinator wakes up believing it still owns its transactions: taking them over
    // while it slept is the design; what it does after waking is what the checks judge.
    excuse(ctx, [victim], from, Date.now() + LEASE_MS + 1_000);
    ctx.record.notes.push(`paused ${victim.child.name} for ${Math.round(pauseMs)} ms`);
  },

  async "partition-shard"(ctx) {
    const shard = pick(ctx.rng, [...(ctx.topo.engines[0]?.proxies.shards.keys() ?? [])]);
    await partition(ctx, `partition from ${shard}`, (e) => e.proxies.shards.get(shard)!, false);
  },

  async "partition-log"(ctx) {
    await partition(ctx, "partition from the coordinator log", (e) => e.proxies.log, true);
  },

  async "partition-redis"(ctx) {
    await partition(ctx, "partition from Redis", (e) => e.proxies.redis, false);
  },

  async "lost-reply"(ctx) {
    await lostReplies(ctx, pick(ctx.rng, ["prepare", "decide", "commit-prepared", "commit-one-phase"] as const));
  },

  async "redis-restart"(ctx) {
    const downMs = ctx.rng() * 1_500;
    await ctx.redis.restart({ downMs });
    ctx.record.redisDataLoss = true;
    ctx.record.faults++;
    ctx.record.notes.push(`redis-server restarted without its data (down ${Math.round(downMs)} ms)`);
  },

  async "clock-step"(ctx) {
    const step = pick(ctx.rng, [-3_600, -600, -60, 600] as const);
    ctx.redis.setClockOffsetMs(step * 1_000);
    ctx.record.faults++;
    // Half the backward steps also lose Redis's data: with the keys gone, the clock is all a
    // token generator has left to stay monotonic with.
    const restart = step < 0 && ctx.rng() < 0.5;
    await sleep(500 + ctx.rng() * 1_000);
    if (restart) {
      await ctx.redis.restart();
      ctx.record.redisDataLoss = true;
    }
    await sleep(1_000 + ctx.rng() * 2_000);
    ctx.redis.setClockOffsetMs(0);
    ctx.record.faults++;
    ctx.record.notes.push(`redis clock stepped ${step} s and back${restart ? ", restarted without data meanwhile" : ""}`);
  },
};

/**
 * Statements whose reply the lost-reply nemesis drops (after the statement ran). The SQL is
 * matched as sent: a simple query's whole text, an extended one's Parse (or its name).
 */
export const LOSS_PATTERNS = {
  prepare: { pattern: /^\s*PREPARE\s+TRANSACTION/i, on: "shard" },
  decide: { pattern: /cohort\.decide-commit/, on: "log" },
  "commit-prepared": { pattern: /^\s*COMMIT\s+PREPARED/i, on: "shard" },
  // A one-phase commit's local COMMIT on the branch connection, which carries its evidence
  // row (participants/onePhaseEvidence.ts): not COMMIT PREPARED, not the branch's begin.
  "commit-one-phase": { pattern: /^\s*INSERT INTO cohort_one_phase\b[^;]*;\s*COMMIT\s*$/i, on: "shard" },
} as const;

async function lostReplies(ctx: NemesisContext, kind: keyof typeof LOSS_PATTERNS): Promise<void> {
  const { pattern, on } = LOSS_PATTERNS[kind];
  const engines = targets(ctx);
  const proxies = engines.map((e) => (on === "log" ? e.proxies.log : pick(ctx.rng, [...e.proxies.shards.values()])));
  const before = proxies.reduce((n, p) => n + p.lostReplies, 0);
  for (const p of proxies) p.loseReplies(pattern, 1 + Math.floor(ctx.rng() * 2));
  await sleep(1_000 + ctx.rng() * 1_500);
  for (const p of proxies) p.stopLosingReplies();
  const lost = proxies.reduce((n, p) => n + p.lostReplies, 0) - before;
  ctx.record.faults += lost;
  if (lost) ctx.record.notes.push(`${lost} lost repl${lost === 1 ? "y" : "ies"} to ${kind}`);
}

/**
 * Force-abort, force-commit and retry-now at random on unfinished transactions, while shard
 * partitions and lost PREPARE replies leave some of them stuck. The actions go through
 * deployment A's console over HTTP, as an operator's browser sends them: a session cookie from
 * POST /api/auth/login, then the Origin header and the CSRF token on every mutation. The
 * console has no engine of its own: A's live engines drive the forced decisions.
 */
async function operatorNemesis(ctx: NemesisContext): Promise<void> {
  const asked = Date.now();
  const operatorConsole = await ctx.topo.startConsole();
  const waitedMs = Date.now() - asked;
  // The window starts once the console serves (it starts with the topology, and usually does by now).
  const until = Date.now() + ctx.windowMs;
  const db = connectDatabase(ctx.topo.a.databaseUrl, { poolSize: 2, applicationName: "chaos-operator" });
  const background = (async () => {
    while (Date.now() < until - 2_000) {
      await sleep(300 + ctx.rng() * 700);
      if (ctx.rng() < 0.5) await FAULTS["partition-shard"](ctx);
      else await lostReplies(ctx, "prepare");
    }
  })();
  const answers = new Map<string, number>();
  try {
    const session = await signIn(db.prisma, operatorConsole.url);
    while (Date.now() < until - 500) {
      await sleep(150 + ctx.rng() * 350);
      const { rows } = await db.pool
        .query<{ id: string }>(`SELECT id::text FROM transactions WHERE ended_at IS NULL ORDER BY random() LIMIT 1`)
        .catch(() => ({ rows: [] as { id: string }[] }));
      const tx = rows[0]?.id;
      if (!tx) continue;
      const action = pick(ctx.rng, ["force-abort", "force-commit", "retry"] as const);
      const answer = await session.act(tx, action, `chaos campaign ${randomUUID().slice(0, 8)}`);
      const key = `${action} ${answer.status || "network-error"}`;
      answers.set(key, (answers.get(key) ?? 0) + 1);
      ctx.record.faults++;
      // The console's own failures: a 5xx, or no answer at all (nothing is injected between
      // the nemesis and the console, nor between the console and its databases).
      if (answer.status === 0 || answer.status >= 500) {
        ctx.record.operatorErrors.push(`${action} ${tx}: ${answer.status || "no answer"} ${answer.text.slice(0, 200)}`);
        continue;
      }
      // 2xx, and the guards' refusals (409), reached the action, which audits every attempt;
      // other 4xx are refused before it (validation, session) and leave no audit row.
      if (answer.status < 300 || answer.status === 409) {
        ctx.record.operator.push({
          action,
          tx,
          outcome: answer.status < 300 ? answer.outcome : `refused: ${answer.text.slice(0, 120)}`,
        });
      }
    }
  } finally {
    await background;
    const parts = [...answers].map(([key, n]) => `${key} ×${n}`).join(", ");
    ctx.record.operatorAnswers = Object.fromEntries(answers);
    ctx.record.notes.unshift(
      `operator (console ${operatorConsole.url}, up in ${(operatorConsole.startMs / 1000).toFixed(1)} s, waited for ${(waitedMs / 1000).toFixed(1)} s): ${parts || "no action"}`,
    );
    if (operatorConsole.exited())
      ctx.record.operatorErrors.push(`the console exited during the run: ${operatorConsole.stderrTail()}`);
    await operatorConsole.stop();
    await db.close().catch(() => undefined);
  }
}

interface OperatorAnswer {
  /** 0: no HTTP answer (network error). */
  status: number;
  outcome: string;
  text: string;
}

/** Creates an operator in A's coordinator database and signs it in over HTTP. */
async function signIn(
  prisma: Parameters<typeof createUser>[0],
  url: string,
): Promise<{ act(tx: string, action: OperatorAttempt["action"], reason: string): Promise<OperatorAnswer> }> {
  const password = randomBytes(18).toString("base64url");
  await createUser(prisma, { name: OPERATOR.name, role: "operator", password });
  const origin = new URL(url).origin;
  const login = await fetch(`${url}/api/auth/login`, {
    method: "POST",
    headers: { origin, "content-type": "application/json" },
    body: JSON.stringify({ name: OPERATOR.name, password }),
  });
  const text = await login.text();
  if (login.status !== 200) throw new Error(`operator sign-in answered ${login.status}: ${text.slice(0, 200)}`);
  const cookie = (login.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? "").split(";")[0];
  if (!cookie) throw new Error("operator sign-in set no session cookie");
  const { csrfToken } = JSON.parse(text) as { csrfToken: string };
  return {
    act: async (tx, action, reason) => {
      try {
        const res = await fetch(`${url}/api/transactions/${tx}/actions/${action}`, {
          method: "POST",
          headers: { origin, cookie, "x-csrf-token": csrfToken, "content-type": "application/json" },
          body: JSON.stringify({ reason }),
          signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
        });
        const body = await res.text();
        let outcome = "";
        try {
          outcome = String((JSON.parse(body) as { outcome?: unknown }).outcome ?? "");
        } catch {
          // not JSON: the text says what happened
        }
        return { status: res.status, outcome, text: body };
      } catch (err) {
        return { status: 0, outcome: "", text: errorMessage(err) };
      }
    },
  };
}
