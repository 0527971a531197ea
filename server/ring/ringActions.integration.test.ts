// The console's side of the ring: figures and what-if on real shards, and the audited
// admin actions (start, cancel, resume) driving the executor through a RingService.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../engine/engine";
import { isCohortError } from "../errors";
import { seedAccounts } from "../sim/bankSchema";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { AccountRouter } from "./accountRouter";
import { createHasher, type Hasher } from "./hashRing";
import { getRebalanceRun } from "./rebalanceStore";
import { cancelRun, resumeRun, startRebalance, type RingActionDeps } from "./ringActions";
import { RingService } from "./ringService";
import { saveRingVersion } from "./ringStore";
import { ringOverview, ringWhatIf } from "./ringView";

const ACCOUNTS = 300;
const admin = { id: null, name: "alice" };
let env: TestEnv;
let engine: Engine;
let hasher: Hasher;
let service: RingService;
let deps: RingActionDeps;

beforeAll(async () => {
  env = await createTestEnv({ shards: 3, accounts: 0 });
  engine = await env.engine();
  hasher = await createHasher();
  await saveRingVersion(
    { prisma: env.prisma, redis: env.redis, namespace: env.namespace },
    [
      { name: "shard-a", weight: 1 },
      { name: "shard-b", weight: 1 },
    ],
    { actor: "test", reason: "first ring" },
    0,
  );
  const router = await AccountRouter.start({ prisma: env.prisma, redis: env.redis, namespace: env.namespace, hasher });
  await seedAccounts(env.shards, ACCOUNTS, router);
  service = new RingService({
    prisma: env.prisma,
    redis: env.redis,
    hasher,
    engine,
    shards: env.shards,
    router,
    log: () => undefined,
    watchdogMs: 0,
  });
  deps = { prisma: env.prisma, redis: env.redis, shards: env.shards, hasher, knownShards: engine.shardNames, service };
});
afterAll(async () => {
  await service?.stop();
  await env?.cleanup();
});

const auditOf = (targetId: string) =>
  env.prisma.auditEntry.findMany({
    where: { targetType: "ring", targetId },
    orderBy: { id: "asc" },
    select: { action: true, outcome: true, reason: true },
  });

describe("ring figures", () => {
  it("reports shares of the circle and of the stored accounts, and previews changes without making them", async () => {
    const overview = await ringOverview(deps);
    expect(overview.version).toBe(1);
    expect(overview.totalKeys).toBe(ACCOUNTS);
    expect(overview.shards.map((s) => [s.name, s.onRing])).toEqual([
      ["shard-a", true],
      ["shard-b", true],
      ["shard-c", false],
    ]);
    expect(overview.shards.reduce((sum, s) => sum + s.ringShare, 0)).toBeCloseTo(1, 9);
    expect(overview.shards.reduce((sum, s) => sum + (s.keys ?? 0), 0)).toBe(ACCOUNTS);
    expect(overview.shards.find((s) => s.name === "shard-c")!.keys).toBe(0);
    expect(overview.imbalance.ring).toBeGreaterThanOrEqual(1);
    expect(overview.imbalance.keys).toBeGreaterThanOrEqual(1);
    expect(overview.ranges).toHaveLength(overview.pointCount + 1);
    expect(overview.samples.length).toBeGreaterThan(10);
    for (const s of overview.samples) expect(s.at).toBe(s.owner);

    const join = await ringWhatIf(deps, { op: "add", shard: "shard-c", weight: 1 });
    expect(join.idealMovedShare).toBeCloseTo(1 / 3, 9);
    expect(Math.abs(join.movedShare - 1 / 3)).toBeLessThan(0.06);
    expect(join.keys!.sampled).toBe(ACCOUNTS);
    expect(join.movedRanges.every((r) => r.to === "shard-c")).toBe(true);
    expect(join).toMatchObject({ applicable: true, blockedBy: null, fromVersion: 1 });
    // Any name may be previewed; only the engine's shards may be applied.
    const hypothetical = await ringWhatIf(deps, { op: "add", shard: "shard-z", weight: 1 });
    expect(hypothetical.applicable).toBe(false);
    expect(hypothetical.blockedBy).toMatch(/shard-z is not a shard the engine knows/);
    expect((await ringOverview(deps)).version).toBe(1);
  });
});

describe("ring actions", () => {
  it("refuses a shard the engine does not know and a stale version, auditing the refusals", async () => {
    const unknown = await startRebalance(deps, {
      change: { op: "add", shard: "shard-z", weight: 1 },
      expectedVersion: 1,
      reason: "grow",
      user: admin,
    }).catch((e: unknown) => e);
    expect(isCohortError(unknown, "UNKNOWN_SHARD")).toBe(true);
    const stale = await startRebalance(deps, {
      change: { op: "add", shard: "shard-c", weight: 1 },
      expectedVersion: 7,
      reason: "grow",
      user: admin,
    }).catch((e: unknown) => e);
    expect(isCohortError(stale, "RING_CONFLICT")).toBe(true);
    // Refused starts have no run: they name the version they would have made.
    expect(await auditOf("version:2")).toEqual([{ action: "ring.rebalance", outcome: "refused", reason: "grow" }]);
    expect(await auditOf("version:8")).toEqual([{ action: "ring.rebalance", outcome: "refused", reason: "grow" }]);
    expect((await ringOverview(deps)).version).toBe(1);
  });

  it("starts a rebalance that moves keys to the end, cancels and resumes it, every step audited", async () => {
    const started = await startRebalance(deps, {
      change: { op: "add", shard: "shard-c", weight: 1 },
      expectedVersion: 1,
      reason: "more capacity",
      user: admin,
    });
    expect(started.version).toBe(2);
    const runId = started.run.id;
    // Cancel as soon as it has moved something (it may also finish first on a fast machine).
    await waitFor(async () => (await getRebalanceRun(env.prisma, runId))!.moved > 0, 20_000, "first moves");
    const cancel = await cancelRun(deps, { runId, reason: "peak hours", user: admin }).catch((e: unknown) => e);
    if (!isCohortError(cancel, "RING_CONFLICT")) {
      await waitFor(async () => !service.isExecuting(runId), 10_000, "the executor to let go");
      expect((await getRebalanceRun(env.prisma, runId))!.status).toBe("CANCELLED");
      // Another change waits for this one.
      const blocked = await startRebalance(deps, {
        change: { op: "remove", shard: "shard-a" },
        expectedVersion: 2,
        reason: "shrink",
        user: admin,
      }).catch((e: unknown) => e);
      expect(isCohortError(blocked, "RING_CONFLICT")).toBe(true);
      await resumeRun(deps, { runId, reason: "quiet again", user: admin });
    }
    await waitFor(async () => (await getRebalanceRun(env.prisma, runId))!.status === "DONE", 30_000, "the run to finish");
    const overview = await ringOverview(deps);
    expect(overview.version).toBe(2);
    expect(overview.run).toMatchObject({ id: runId, status: "DONE" });
    expect(overview.run!.moved + overview.run!.skipped).toBe(overview.run!.total);
    expect(overview.shards.reduce((sum, s) => sum + (s.keys ?? 0), 0)).toBe(ACCOUNTS);
    for (const s of overview.samples) expect(s.at).toBe(s.owner);
    const actions = (await auditOf(runId)).map((a) => `${a.action}:${a.outcome}`);
    expect(actions[0]).toBe("ring.rebalance:ok");
    expect(actions.slice(1)).toEqual(
      isCohortError(cancel, "RING_CONFLICT")
        ? ["ring.rebalance.cancel:refused"]
        : ["ring.rebalance.cancel:ok", "ring.rebalance.resume:ok"],
    );
  });
});
