import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCohortError, type CohortError } from "../errors";
import { decodeEvent, eventsStream, type CohortEvent } from "../live/events";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { createHasher, type Hasher, type RingMember } from "./hashRing";
import { cancelRebalance, getRebalanceRun, resumeRebalance, unfinishedRun } from "./rebalanceStore";
import { ensureRing, loadRing, ringHistory, saveRingVersion } from "./ringStore";
import { loadRoutingTable } from "./routing";

let env: TestEnv;
let hasher: Hasher;
const meta = { actor: "test:ring", reason: "integration test" };
const two: RingMember[] = [
  { name: "shard-a", weight: 1 },
  { name: "shard-b", weight: 1 },
];

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 0 });
  hasher = await createHasher();
});
afterAll(async () => {
  await env?.cleanup();
});

const deps = () => ({ prisma: env.prisma, redis: env.redis, namespace: env.namespace });

async function eventAt(id: string | null): Promise<CohortEvent | null> {
  expect(id).not.toBeNull();
  const entries = await env.redis.xrange(eventsStream(env.namespace), id!, id!);
  return entries[0] ? decodeEvent(entries[0][1]) : null;
}

async function refusal(p: Promise<unknown>): Promise<CohortError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isCohortError(err)) throw new Error(`expected a CohortError, got ${String(err)}`);
  return err;
}

describe("ring store", () => {
  it("writes the first version by compare-and-set: of racing writers exactly one wins", async () => {
    expect(await loadRing(env.prisma, hasher)).toBeNull();
    expect(await loadRoutingTable(env.prisma, hasher)).toBeNull();
    const candidates = [two, [{ name: "shard-a", weight: 2 }], [{ name: "shard-b", weight: 1 }], two.slice().reverse()];
    const results = await Promise.allSettled(
      candidates.map((m, i) => saveRingVersion(deps(), m, { ...meta, actor: `writer-${i}` }, 0)),
    );
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ i, saved: r.value }] : []));
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(isCohortError(r.reason, "RING_CONFLICT")).toBe(true);
    }
    const { i, saved } = won[0]!;
    expect(saved.version).toBe(1);
    expect(saved.runId).toBeNull(); // nothing to move onto a first ring
    expect(await eventAt(saved.eventId)).toMatchObject({ v: 1, type: "ring.changed", version: 1, runId: null });

    const loaded = (await loadRing(env.prisma, hasher))!;
    expect(loaded.version).toBe(1);
    expect(loaded.createdBy).toBe(`writer-${i}`);
    expect(loaded.members).toEqual([...candidates[i]!].sort((a, b) => (a.name < b.name ? -1 : 1)));
    expect(loaded.vnodesPerWeight).toBe(160);
    // ensureRing on an existing ring changes nothing.
    expect((await ensureRing(deps(), hasher, [{ name: "other", weight: 1 }], meta)).version).toBe(1);
  });

  it("refuses a stale expected version and a change that changes nothing", async () => {
    const stale = await refusal(saveRingVersion(deps(), [{ name: "shard-z", weight: 1 }], meta, 0));
    expect(stale.code).toBe("RING_CONFLICT");
    expect(stale.details).toMatchObject({ reason: "stale-version", expectedVersion: 0, currentVersion: 1 });
    const current = (await loadRing(env.prisma, hasher))!;
    expect((await refusal(saveRingVersion(deps(), current.members, meta, 1))).code).toBe("BAD_REQUEST");
    expect((await refusal(saveRingVersion(deps(), current.members, { actor: " ", reason: "x" }, 1))).code).toBe("BAD_REQUEST");
  });

  it("saves a later version together with its rebalance run, and routes by that run until it is done", async () => {
    const current = (await loadRing(env.prisma, hasher))!;
    const next = [...current.members, { name: "shard-c", weight: 1 }];
    const saved = await saveRingVersion(deps(), next, { actor: "op:alice", reason: "add shard-c" }, 1);
    expect(saved.version).toBe(2);
    expect(saved.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await eventAt(saved.eventId)).toMatchObject({ type: "ring.changed", version: 2, runId: saved.runId });

    const run = (await unfinishedRun(env.prisma))!;
    expect(run).toMatchObject({
      id: saved.runId,
      fromVersion: 1,
      toVersion: 2,
      status: "RUNNING",
      moved: 0,
      cursor: null,
      createdBy: "op:alice",
    });

    const routing = (await loadRoutingTable(env.prisma, hasher))!;
    expect(routing.version).toBe(2);
    expect(routing.transition?.runId).toBe(saved.runId);
    // Nothing has moved yet: every key is still where version 1 put it.
    for (let k = 0; k < 500; k++) expect(routing.locate(String(k))).toBe(current.ring.lookup(String(k)));

    // One run at a time: no further change until this one is done, whatever the version.
    const blocked = await refusal(saveRingVersion(deps(), two, meta, 2));
    expect(blocked.code).toBe("RING_CONFLICT");
    expect(blocked.details).toMatchObject({ reason: "rebalance-unfinished", runId: saved.runId });
    // The database holds the line too, even for a writer that skips the check.
    await expect(
      env.prisma.$executeRaw`INSERT INTO rebalance_runs (id, from_version, to_version, created_by, reason)
        VALUES (gen_random_uuid(), 1, 1, 'x', 'x')`,
    ).rejects.toThrow();
    expect((await ringHistory(env.prisma)).map((v) => v.version)).toEqual([2, 1]);
  });

  it("cancels and resumes a run only from the statuses that allow it, publishing each change", async () => {
    const run = (await unfinishedRun(env.prisma))!;
    const cancelled = await cancelRebalance(deps(), run.id, { actor: "op:bob", reason: "peak hours" });
    expect(cancelled).toMatchObject({ status: "CANCELLED", statusBy: "op:bob", statusNote: "peak hours" });
    expect((await refusal(cancelRebalance(deps(), run.id, meta))).code).toBe("RING_CONFLICT");
    const last = await env.redis.xrevrange(eventsStream(env.namespace), "+", "-", "COUNT", 20);
    const events = last.map(([, f]) => decodeEvent(f)).filter((e) => e?.type === "ring.rebalance" && e.runId === run.id);
    expect(events[0]).toMatchObject({ status: "CANCELLED", version: 2, moved: 0 });

    // A cancelled run still splits routing (it is unfinished) and still blocks changes.
    expect((await loadRoutingTable(env.prisma, hasher))!.transition?.status).toBe("CANCELLED");
    expect((await refusal(saveRingVersion(deps(), two, meta, 2))).code).toBe("RING_CONFLICT");

    const resumed = await resumeRebalance(deps(), run.id, { actor: "op:bob", reason: "night" });
    expect(resumed).toMatchObject({ status: "RUNNING", ownerId: null });
    expect((await refusal(resumeRebalance(deps(), run.id, meta))).code).toBe("RING_CONFLICT");
    expect((await refusal(resumeRebalance(deps(), "00000000-0000-0000-0000-000000000000", meta))).code).toBe("NOT_FOUND");

    // Once the run is done, routing is the new ring alone and the ring can change again.
    await env.prisma.rebalanceRun.update({ where: { id: run.id }, data: { status: "DONE" } });
    expect((await getRebalanceRun(env.prisma, run.id))!.status).toBe("DONE");
    expect((await loadRoutingTable(env.prisma, hasher))!.transition).toBeNull();
    const third = await saveRingVersion(deps(), two, { actor: "op:bob", reason: "remove shard-c" }, 2);
    expect(third.version).toBe(3);
  });
});
