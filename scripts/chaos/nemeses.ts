// The nemeses: each injects real faults into a running topology for a window of time and
// records what it did, including when a takeover of an instance is by design (it was paused,
// or cut off from the coordinator log), for the checker.
import { randomUUID } from "node:crypto";
import { connectDatabase } from "../../server/db/prisma";
import { errorMessage } from "../../server/errors";
import { forceAbort, forceCommit, retryNow, type OpsDeps } from "../../server/ops/actions";
import { PostgresShard } from "../../server/participants/postgresShard";
import type { FaultProxy } from "../../server/testing/faultProxy";
import type { ChaosNemesis } from "../cli";
import { KILL_POINTS } from "./protocol";
import type { ClockShiftedRedis } from "../../server/testing/clockShiftedRedis";
import { LEASE_MS, type EngineHandle, type Topology } from "./topology";

export { CHAOS_NEMESES as NEMESES } from "../cli";
export type NemesisName = ChaosNemesis;

export const OPERATOR = { id: "00000000-0000-4000-8000-00000000c4a0", name: "chaos-operator" };

export interface OperatorAttempt {
  action: "force-abort" | "force-commit" | "retry";
  tx: string;
  outcome: string;
}

export interface FaultRecord {
  faults: number;
  /** A takeover of `instance` between from and to is by design (paused, or cut off from the log). */
  excused: { instance: string; from: number; to: number }[];
  operator: OperatorAttempt[];
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
  return { faults: 0, excused: [], operator: [], redisDataLoss: false, notes: [] };
}

/** Runs `nemesis` for the context's window. */
export async function runNemesis(name: NemesisName, ctx: NemesisContext): Promise<void> {
  const until = Date.now() + ctx.windowMs;
  const between = () => sleep(300 + ctx.rng() * 900);
  if (name === "operator") return operatorNemesis(ctx, until);
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
    await lostReplies(ctx, pick(ctx.rng, ["prepare", "decide", "commit-prepared"] as const));
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

const LOSS_PATTERNS = {
  prepare: { pattern: /^\s*PREPARE\s+TRANSACTION/i, on: "shard" },
  decide: { pattern: /cohort\.decide-commit/, on: "log" },
  "commit-prepared": { pattern: /^\s*COMMIT\s+PREPARED/i, on: "shard" },
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
 * partitions and lost PREPARE replies leave some of them stuck. The actions are the console's
 * guarded operations (server/ops/actions.ts) called directly with an operator identity: the
 * console's HTTP layer adds sessions and CSRF around the same functions, and starting Next
 * per run would cost more than the whole run.
 */
async function operatorNemesis(ctx: NemesisContext, until: number): Promise<void> {
  const db = connectDatabase(ctx.topo.a.databaseUrl, { poolSize: 4, applicationName: "chaos-operator" });
  const shards = ctx.topo.shards.map((s) => new PostgresShard({ ...s, namespace: ctx.topo.a.namespace, poolSize: 2 }));
  const deps: OpsDeps = { prisma: db.prisma, pool: db.pool, shards: new Map(shards.map((s) => [s.name, s])), engine: null };
  const background = (async () => {
    while (Date.now() < until - 2_000) {
      await sleep(300 + ctx.rng() * 700);
      if (ctx.rng() < 0.5) await FAULTS["partition-shard"](ctx);
      else await lostReplies(ctx, "prepare");
    }
  })();
  try {
    while (Date.now() < until - 500) {
      await sleep(150 + ctx.rng() * 350);
      const { rows } = await db.pool
        .query<{ id: string }>(`SELECT id::text FROM transactions WHERE ended_at IS NULL ORDER BY random() LIMIT 1`)
        .catch(() => ({ rows: [] as { id: string }[] }));
      const tx = rows[0]?.id;
      if (!tx) continue;
      const action = pick(ctx.rng, ["force-abort", "force-commit", "retry"] as const);
      const run = action === "force-abort" ? forceAbort : action === "force-commit" ? forceCommit : retryNow;
      const req = { txId: tx, operator: OPERATOR, reason: `chaos campaign ${randomUUID().slice(0, 8)}` };
      const outcome = await run(deps, req).then(
        (r) => r.outcome,
        (err: unknown) => `refused: ${errorMessage(err).slice(0, 120)}`,
      );
      ctx.record.operator.push({ action, tx, outcome });
      ctx.record.faults++;
    }
  } finally {
    await background;
    const tally = new Map<string, number>();
    for (const a of ctx.record.operator) {
      const key = `${a.action} ${a.outcome.startsWith("refused") ? "refused" : a.outcome}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
    const parts = [...tally].map(([key, n]) => `${key} ×${n}`).join(", ");
    ctx.record.notes.unshift(`operator: ${ctx.record.operator.length} action(s): ${parts || "none"}`);
    for (const s of shards) await s.close().catch(() => undefined);
    await db.close().catch(() => undefined);
  }
}
