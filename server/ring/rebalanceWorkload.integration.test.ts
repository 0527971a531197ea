// The ring issue's proof: a rebalance under a running transfer workload, its executor
// killed in the middle (a child process SIGKILLed right after a move's COMMIT decision:
// the move is decided but not delivered, its cursor not written, both leases left to
// lapse) and then resumed by another executor. At the end every account is on its owner
// shard, exactly once, the total balance is unchanged, and every transfer's legs agree
// with its logged outcome.
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../engine/engine";
import { isCohortError } from "../errors";
import { INITIAL_BALANCE, seedAccounts, totalBalance } from "../sim/bankSchema";
import { checkInvariants } from "../sim/invariants";
import type { TransferResult } from "../sim/transfer";
import { startWorkload, type Workload } from "../sim/workload";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { AccountRouter } from "./accountRouter";
import { createHasher, type Hasher, type RingMember } from "./hashRing";
import { accountMover, MOVE_LABEL } from "./moveAccount";
import { planRebalance, type PlannedMove } from "./rebalance";
import { runRebalance, type RebalanceOutcome } from "./rebalanceRunner";
import { getRebalanceRun } from "./rebalanceStore";
import { loadRing, saveRingVersion } from "./ringStore";

const ACCOUNTS = 400;
const ENGINE_LEASE_MS = 1_000;
const EXECUTOR_LEASE_MS = 1_500;
const meta = { actor: "test:workload", reason: "integration test" };
const two: RingMember[] = [
  { name: "shard-a", weight: 1 },
  { name: "shard-b", weight: 1 },
];
const three: RingMember[] = [...two, { name: "shard-c", weight: 1 }];

let env: TestEnv;
let engine: Engine;
let hasher: Hasher;
let router: AccountRouter;
let workload: Workload | null = null;

beforeAll(async () => {
  env = await createTestEnv({ shards: 3, accounts: 0 });
  engine = await env.engine({ options: { leaseMs: ENGINE_LEASE_MS, heartbeatMs: 200 } });
  hasher = await createHasher();
  await saveRingVersion({ prisma: env.prisma, redis: env.redis, namespace: env.namespace }, two, meta, 0);
  router = await AccountRouter.start({ prisma: env.prisma, redis: env.redis, namespace: env.namespace, hasher });
  expect(await seedAccounts(env.shards, ACCOUNTS, router)).toEqual({ created: ACCOUNTS, deferred: 0 });
});
afterAll(async () => {
  await workload?.stop();
  await router?.stop();
  await env?.cleanup();
});

/** Every account's shard; fails on an account stored twice. */
async function whereAccountsAre(): Promise<Map<string, string>> {
  const at = new Map<string, string>();
  for (const s of env.shards) {
    const { rows } = await s.query<{ id: string }>("SELECT id::text FROM accounts");
    for (const r of rows) {
      expect(at.get(r.id), `account ${r.id} on two shards`).toBeUndefined();
      at.set(r.id, s.name);
    }
  }
  return at;
}

/** Runs the executor child until it kills itself after the COMMIT decision of move `killAtMove`. */
function killedExecutor(runId: string, killAtMove: number): Promise<void> {
  const worker = path.resolve(import.meta.dirname, "../testing/rebalanceWorker.ts");
  const args = {
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    shards: env.shardUrls,
    namespace: env.namespace,
    runId,
    killAtMove,
    engineLeaseMs: ENGINE_LEASE_MS,
    executorLeaseMs: EXECUTOR_LEASE_MS,
  };
  const child = spawn(process.execPath, ["--import", "tsx", worker, JSON.stringify(args)], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (_code, signal) => {
      clearTimeout(guard);
      if (signal === "SIGKILL" && !output.includes("finished")) resolve();
      else reject(new Error(`the executor child was not killed mid-run (signal ${signal}): ${output.slice(0, 1000)}`));
    });
  });
}

/** A second executor, in this process, once the dead one's lease lets it claim the run. */
async function resumedExecutor(runId: string): Promise<RebalanceOutcome> {
  return waitFor(
    async () => {
      try {
        return await runRebalance({
          prisma: env.prisma,
          redis: env.redis,
          namespace: env.namespace,
          hasher,
          runId,
          ...accountMover({ engine, shards: env.shards }),
          executorId: "resumer",
          leaseMs: EXECUTOR_LEASE_MS,
          pageSize: 50,
          retryBaseMs: 50,
          onProgress: (p) => router.advance(p),
        });
      } catch (err) {
        if (isCohortError(err, "RING_CONFLICT")) return null; // still held by the dead executor
        throw err;
      }
    },
    20_000,
    "the dead executor's lease to lapse",
  );
}

describe("rebalance under a running workload", () => {
  it("survives its executor being killed mid-run and resumed: every account on its owner, once, money conserved", async () => {
    const results: { at: number; result: TransferResult }[] = [];
    const errors: string[] = [];
    workload = startWorkload(engine, {
      accounts: ACCOUNTS,
      concurrency: 6,
      rate: 0,
      maxAmount: 50,
      placement: router,
      onResult: (result) => results.push({ at: Date.now(), result }),
      onError: (m) => errors.push(m),
    });
    await waitFor(async () => results.filter((r) => r.result.outcome === "committed").length >= 50, 30_000, "transfers on v1");

    const saved = await saveRingVersion(
      { prisma: env.prisma, redis: env.redis, namespace: env.namespace },
      three,
      { ...meta, reason: "add shard-c" },
      1,
    );
    const runId = saved.runId!;
    const to = (await loadRing(env.prisma, hasher))!.ring;
    const from = to.withMembers(two);
    const plan: PlannedMove[] = planRebalance(
      from,
      to,
      Array.from({ length: ACCOUNTS }, (_, i) => String(i)),
    );
    expect(plan.length).toBeGreaterThan(80); // about a third of the accounts go to shard-c
    await waitFor(async () => router.routing.version === 2 && router.moving, 5_000, "the router to follow ring.changed");
    const runStarted = Date.now();

    // Killed a third of the way in, right after the COMMIT decision of that move.
    const killAtMove = Math.floor(plan.length / 3);
    await killedExecutor(runId, killAtMove);
    const killed = (await getRebalanceRun(env.prisma, runId))!;
    expect(killed.status).toBe("RUNNING");
    expect(killed.ownerId).toMatch(/^worker:/);
    expect(killed.moved).toBe(killAtMove - 1); // the decided move's cursor write never happened
    expect(killed.cursor).not.toBeNull();

    const outcome = await resumedExecutor(runId);
    expect(outcome).toMatchObject({ stopped: "done", status: "DONE", total: plan.length });
    // The killed move was committed by recovery (its decision was logged): found already there.
    expect(outcome.skipped).toBe(1);
    expect(outcome.moved + outcome.skipped).toBe(plan.length);
    const runEnded = Date.now();
    expect(router.moving).toBe(false);

    // Transfers keep committing on the new ring.
    const committedBefore = results.filter((r) => r.result.outcome === "committed").length;
    await waitFor(
      async () => results.filter((r) => r.result.outcome === "committed").length >= committedBefore + 50,
      30_000,
      "transfers on v2",
    );
    await workload.stop();
    workload = null;

    // Settle: the dead child's transactions are finished by this engine's recovery.
    await waitFor(
      async () => (await env.prisma.transaction.count({ where: { status: { notIn: ["COMMITTED", "ABORTED"] } } })) === 0,
      30_000,
      "every transaction terminal",
    );
    await engine.reconcile();

    const at = await whereAccountsAre();
    expect(at.size).toBe(ACCOUNTS);
    const misplaced = [...at].filter(([key, shard]) => to.lookup(key) !== shard);
    expect(misplaced).toEqual([]);
    expect(await totalBalance(env.shards)).toEqual({ total: ACCOUNTS * INITIAL_BALANCE, accounts: ACCOUNTS });
    const report = await checkInvariants(env.prisma, env.shards, ACCOUNTS * INITIAL_BALANCE);
    expect(report.details).toEqual([]);
    expect(report).toMatchObject({ violations: 0, unresolved: 0, orphans: 0 });

    // The workload ran throughout, and the only aborts it saw were honest ones.
    expect(errors).toEqual([]);
    const during = results.filter((r) => r.at >= runStarted && r.at <= runEnded);
    expect(during.filter((r) => r.result.outcome === "committed").length).toBeGreaterThan(20);
    const unexpected = results.filter(
      (r) =>
        r.result.outcome === "aborted" &&
        !isCohortError(r.result.error, "RING_CONFLICT") &&
        !isCohortError(r.result.error, "TX_TIMED_OUT"),
    );
    expect(unexpected.map((r) => r.result.error?.message)).toEqual([]);
    const moves = await env.prisma.transaction.groupBy({ by: ["status"], where: { label: MOVE_LABEL }, _count: true });
    expect(moves.find((m) => m.status === "COMMITTED")?._count).toBe(plan.length);
    const rerouted = results.filter((r) => r.result.rerouted).length;
    const abortedAsMoved = results.filter((r) => isCohortError(r.result.error, "RING_CONFLICT")).length;
    console.log(
      `[test] ${plan.length} moves (${killAtMove - 1} before the kill); ${results.length} transfers, ` +
        `${during.length} during the run, ${rerouted} rerouted, ${abortedAsMoved} aborted as moved`,
    );
    // A child process, two lease lapses and a few hundred 2PC moves: slow on a loaded machine.
  }, 180_000);
});
