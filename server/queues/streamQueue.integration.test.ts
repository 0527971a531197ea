// StreamQueue and the operator moves of queueOps against a real Redis: delivery to one of
// several consumers, retries with backoff, reclaiming a dead consumer's entries, dead
// letters (by the delivery limit, by DeadLetterNow, by an operator), requeue, retry-now,
// the purge guard, and a stream deleted under a running consumer. Each test has a
// namespace of its own, deleted afterwards, so files running side by side never meet.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { CohortError } from "../errors";
import { waitFor } from "../testing/waitFor";
import { listDeadLetters, listPending, moveToDead, purgeDead, readPending, requeue, retryNow } from "./queueOps";
import {
  DeadLetterNow,
  enqueue,
  ensureGroup,
  queueKeys,
  registryKey,
  StreamQueue,
  streamName,
  type Handler,
  type QueueEntry,
  type StreamQueueOptions,
} from "./streamQueue";

const GROUP = "g";
/** Fast timings: backoff 50, 100, 200 (capped), reclaim after 400 ms idle. */
const FAST = { baseDelayMs: 50, maxDelayMs: 200, reclaimIdleMs: 400, blockMs: 200 };
/** Backoff so long that a failed entry just sits pending for the length of a test. */
const SLOW = { baseDelayMs: 5_000, maxDelayMs: 5_000, reclaimIdleMs: 20_000, blockMs: 200 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redisUrl: string;
/** Plain connection for checks, raw commands and the operator moves. */
let redis: Redis;
let ns: string;
let stream: string;
let keys: ReturnType<typeof queueKeys>;
let queues: StreamQueue[] = [];
let connections: Redis[] = [];
let logs: string[] = [];

beforeAll(() => {
  redisUrl = inject("redisUrl");
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  redis.on("error", () => undefined);
});

afterAll(() => {
  redis?.disconnect();
});

beforeEach(() => {
  ns = `t${randomBytes(4).toString("hex")}`;
  stream = streamName(ns, "work");
  keys = queueKeys(stream);
  logs = [];
});

afterEach(async () => {
  await Promise.allSettled(queues.map((q) => q.stop()));
  for (const c of connections) c.disconnect();
  queues = [];
  connections = [];
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", `${ns}:*`, "COUNT", 1000);
    cursor = next;
    if (found.length) await redis.del(...found);
  } while (cursor !== "0");
});

type QueueOpts = Partial<Omit<StreamQueueOptions, "redis" | "stream" | "group">> & { consumer: string };

/** A queue on a connection of its own (one "process"), started, and stopped after the test. */
async function startQueue(handler: Handler, opts: QueueOpts): Promise<StreamQueue> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  connection.on("error", () => undefined);
  connections.push(connection);
  const queue = new StreamQueue({
    redis: connection,
    stream,
    group: GROUP,
    maxDeliveries: 3,
    deleteOnAck: true,
    log: (line) => logs.push(line),
    ...FAST,
    ...opts,
  });
  queues.push(queue);
  await queue.start(handler);
  return queue;
}

type PendingRow = [id: string, consumer: string, idleMs: number, deliveries: number];

const pendingRows = async (): Promise<PendingRow[]> => (await redis.xpending(stream, GROUP, "-", "+", 1000)) as PendingRow[];
const pendingCount = async (): Promise<number> => Number(((await redis.xpending(stream, GROUP)) as [number])[0]);

const rejection = async (p: Promise<unknown>): Promise<CohortError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof CohortError) return err;
    throw err;
  }
  throw new Error("expected a CohortError");
};

/** Records every delivery with the time the handler was called. */
function recorder(behaviour: (entry: QueueEntry) => Promise<void> | void = () => undefined) {
  const calls: (QueueEntry & { at: number })[] = [];
  const handler: Handler = async (entry) => {
    calls.push({ ...entry, at: Date.now() });
    await behaviour(entry);
  };
  return { calls, handler, of: (id: string) => calls.filter((c) => c.id === id) };
}

describe("delivery", () => {
  it("delivers each entry once to one of two consumers of a group and acknowledges it", async () => {
    const N = 200;
    const seen = new Map<string, string[]>();
    const deliveries: number[] = [];
    const handlerOf =
      (consumer: string): Handler =>
      async (entry) => {
        seen.set(entry.fields.n!, [...(seen.get(entry.fields.n!) ?? []), consumer]);
        deliveries.push(entry.deliveries);
        await sleep(2);
      };
    await startQueue(handlerOf("a"), { consumer: "a", batch: 10 });
    await startQueue(handlerOf("b"), { consumer: "b", batch: 10 });
    const ids = new Set<string>();
    for (let i = 0; i < N; i++) ids.add(await enqueue(redis, stream, { n: String(i) }));
    expect(ids.size).toBe(N);

    await waitFor(
      async () => seen.size === N && (await redis.xlen(stream)) === 0 && (await pendingCount()) === 0,
      20_000,
      "all acked",
    );
    // Exactly once each, across both consumers, and both took part.
    for (let i = 0; i < N; i++) expect(seen.get(String(i))).toHaveLength(1);
    expect(deliveries.every((n) => n === 1)).toBe(true);
    const byConsumer = (c: string) => [...seen.values()].filter((v) => v[0] === c).length;
    expect(byConsumer("a") + byConsumer("b")).toBe(N);
    expect(byConsumer("a")).toBeGreaterThan(0);
    expect(byConsumer("b")).toBeGreaterThan(0);
    // Acknowledged and deleted (deleteOnAck): no backlog, nothing pending, no error left behind.
    expect(await redis.xlen(stream)).toBe(0);
    expect(await pendingCount()).toBe(0);
    expect(await redis.exists(keys.errors)).toBe(0);
    // The stream is registered for the figures collector.
    expect(await redis.sismember(registryKey(ns), stream)).toBe(1);
    // No further deliveries show up later.
    await sleep(300);
    expect([...seen.values()].every((v) => v.length === 1)).toBe(true);
  });

  it("retries a failing entry with backoff and keeps its last error only while it is pending", async () => {
    const errorsSeen: (string | null)[] = [];
    const { calls, handler } = recorder(async (entry) => {
      // The error of the previous failed delivery is recorded while the entry is pending.
      errorsSeen.push(await redis.hget(keys.errors, entry.id));
      if (entry.deliveries <= 2) throw new Error(`fail #${entry.deliveries}`);
    });
    await startQueue(handler, { consumer: "c1" });
    const id = await enqueue(redis, stream, { job: "x" });

    await waitFor(async () => calls.length >= 3 && (await pendingCount()) === 0, 10_000, "third delivery acked");
    expect(calls.map((c) => c.deliveries)).toEqual([1, 2, 3]);
    expect(calls.every((c) => c.id === id && c.fields.job === "x")).toBe(true);
    expect(errorsSeen).toEqual([null, "fail #1", "fail #2"]);
    // Backoff before delivery n+1 is base·2^(n−1) from the previous delivery: lower bounds only
    // (a loaded machine only makes the gaps longer); 5 ms for Redis' millisecond idle clock.
    const gap2 = calls[1]!.at - calls[0]!.at;
    const gap3 = calls[2]!.at - calls[1]!.at;
    expect(gap2).toBeGreaterThanOrEqual(FAST.baseDelayMs - 5);
    expect(gap3).toBeGreaterThanOrEqual(2 * FAST.baseDelayMs - 5);
    // Cleaned up after the ack.
    expect(await redis.hexists(keys.errors, id)).toBe(0);
    expect(await redis.xlen(stream)).toBe(0);
    expect(await redis.xlen(keys.dead)).toBe(0);
  });

  it("reclaims the entries of a dead consumer once they are idle past reclaimIdleMs, not before", async () => {
    await ensureGroup(redis, stream, GROUP);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await enqueue(redis, stream, { n: String(i) }));
    // A process that read its entries and crashed: they stay pending, never acknowledged.
    const read = (await redis.xreadgroup("GROUP", GROUP, "dead-consumer", "COUNT", 10, "STREAMS", stream, ">")) as [
      string,
      [string, string[]][],
    ][];
    const readAt = Date.now();
    expect(read[0]![1].map(([id]) => id)).toEqual(ids);

    const { calls, handler } = recorder();
    await startQueue(handler, { consumer: "live", reclaimIdleMs: 400 });
    await sleep(100);
    // Not idle long enough yet: still the dead consumer's, and not delivered again.
    const early = await pendingRows();
    expect(early.map(([id]) => id)).toEqual(ids);
    expect(early.every(([, consumer, , n]) => consumer === "dead-consumer" && n === 1)).toBe(true);
    expect(calls).toHaveLength(0);

    await waitFor(async () => calls.length >= 10 && (await pendingCount()) === 0, 10_000, "all reclaimed and acked");
    expect(calls.map((c) => c.id).sort()).toEqual([...ids].sort());
    expect(calls.every((c) => c.deliveries === 2)).toBe(true);
    expect(calls.map((c) => c.fields.n).sort((x, y) => Number(x) - Number(y))).toEqual(ids.map((_, i) => String(i)));
    // None was taken before it had been idle reclaimIdleMs (5 ms for Redis' millisecond clock).
    for (const c of calls) expect(c.at - readAt).toBeGreaterThanOrEqual(400 - 5);
    expect(await pendingRows()).toEqual([]);
    expect(await redis.xlen(stream)).toBe(0);
  });
});

describe("dead letters", () => {
  it("moves an entry to the dead letters after maxDeliveries failed deliveries", async () => {
    const told: { fields: Record<string, string>; error: string }[] = [];
    const { calls, handler } = recorder(() => {
      throw new Error("shard down");
    });
    await startQueue(handler, {
      consumer: "c1",
      onDeadLetter: async (fields, error) => {
        told.push({ fields, error });
      },
    });
    const fields = { tx: "tx-1", shard: "s2" };
    const id = await enqueue(redis, stream, fields);

    await waitFor(async () => told.length > 0 && (await redis.xlen(keys.dead)) === 1, 10_000, "dead letter");
    const { total, entries } = await listDeadLetters(redis, stream);
    expect(total).toBe(1);
    const dead = entries[0]!;
    expect(dead).toMatchObject({ originalId: id, group: GROUP, deliveries: 3, error: "shard down", by: "queue", fields });
    expect(dead.at).toBeGreaterThan(0);
    expect(calls.map((c) => c.deliveries)).toEqual([1, 2, 3]);
    // Out of the stream, its pending list and the errors hash.
    expect(await pendingRows()).toEqual([]);
    expect(await redis.xlen(stream)).toBe(0);
    expect(await redis.hexists(keys.errors, id)).toBe(0);
    // The domain was told once, with the dead letter's fields and metadata.
    await sleep(300);
    expect(told).toHaveLength(1);
    expect(told[0]!.error).toBe("shard down");
    expect(told[0]!.fields).toMatchObject({ ...fields, _error: "shard down", _origin: id, _by: "queue", _deliveries: "3" });
    expect(calls).toHaveLength(3);
  });

  it("dead-letters at the first delivery when the handler throws DeadLetterNow", async () => {
    const { calls, handler } = recorder(() => {
      throw new DeadLetterNow("malformed entry");
    });
    await startQueue(handler, { consumer: "c1" });
    const id = await enqueue(redis, stream, { tx: "bad" });

    await waitFor(async () => (await redis.xlen(keys.dead)) === 1, 10_000, "dead letter");
    const { entries } = await listDeadLetters(redis, stream);
    expect(entries[0]).toMatchObject({
      originalId: id,
      deliveries: 1,
      error: "malformed entry",
      by: "queue",
      fields: { tx: "bad" },
    });
    expect(await pendingRows()).toEqual([]);
    await sleep(300);
    expect(calls.map((c) => c.deliveries)).toEqual([1]);
  });

  it("requeues a dead letter as a new entry whose deliveries start over, once", async () => {
    let failing = true;
    const { calls, handler } = recorder(() => {
      if (failing) throw new Error("shard down");
    });
    await startQueue(handler, { consumer: "c1" });
    const id = await enqueue(redis, stream, { tx: "tx-9" });
    await waitFor(async () => (await redis.xlen(keys.dead)) === 1 && (await pendingCount()) === 0, 10_000, "dead letter");
    const deadId = (await listDeadLetters(redis, stream)).entries[0]!.id;
    expect(calls.map((c) => c.deliveries)).toEqual([1, 2, 3]);

    failing = false;
    const newId = await requeue(redis, stream, deadId);
    expect(newId).not.toBe(id);
    await waitFor(async () => calls.length === 4 && (await pendingCount()) === 0, 10_000, "requeued entry delivered");
    expect(calls[3]).toMatchObject({ id: newId, deliveries: 1, fields: { tx: "tx-9" } });
    expect(await redis.xlen(keys.dead)).toBe(0);
    expect(await redis.xlen(stream)).toBe(0);

    const again = await rejection(requeue(redis, stream, deadId));
    expect(again.code).toBe("NOT_FOUND");
  });

  it("moves a pending entry to the dead letters for an operator, once", async () => {
    const { calls, handler } = recorder(() => {
      throw new Error("still failing");
    });
    await startQueue(handler, { consumer: "c1", ...SLOW });
    const id = await enqueue(redis, stream, { tx: "tx-3" });
    await waitFor(async () => (await redis.hget(keys.errors, id)) === "still failing", 10_000, "first failure recorded");

    const moved = await moveToDead(redis, stream, GROUP, id, {
      error: "given up by alice",
      by: "operator:alice",
      deleteFromStream: true,
    });
    expect(moved.deliveries).toBe(1);
    const { entries } = await listDeadLetters(redis, stream);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      id: moved.deadId,
      originalId: id,
      deliveries: 1,
      error: "given up by alice",
      by: "operator:alice",
      fields: { tx: "tx-3" },
    });
    expect(await pendingRows()).toEqual([]);
    expect(await redis.xlen(stream)).toBe(0);
    expect(await redis.hexists(keys.errors, id)).toBe(0);

    const again = await rejection(
      moveToDead(redis, stream, GROUP, id, { error: "x", by: "operator:alice", deleteFromStream: true }),
    );
    expect(again.code).toBe("NOT_FOUND");
    expect(await redis.xlen(keys.dead)).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it("purges the dead letters only when they are what the operator counted", async () => {
    const { handler } = recorder(() => {
      throw new DeadLetterNow("bad");
    });
    await startQueue(handler, { consumer: "c1" });
    for (let i = 0; i < 3; i++) await enqueue(redis, stream, { n: String(i) });
    await waitFor(async () => (await redis.xlen(keys.dead)) === 3, 10_000, "three dead letters");
    const newest = (await listDeadLetters(redis, stream)).entries[0]!.id;

    const conflict = await rejection(purgeDead(redis, stream, { count: 2, lastId: newest }));
    expect(conflict.code).toBe("CONFLICT");
    expect(conflict.details).toEqual({ count: 3, lastId: newest });
    expect(await redis.xlen(keys.dead)).toBe(3);

    const stale = await rejection(purgeDead(redis, stream, { count: 3, lastId: "1-0" }));
    expect(stale.code).toBe("CONFLICT");
    expect(await redis.xlen(keys.dead)).toBe(3);

    expect(await purgeDead(redis, stream, { count: 3, lastId: newest })).toBe(3);
    expect(await redis.xlen(keys.dead)).toBe(0);
  });
});

describe("keepDelivering", () => {
  it("retries past maxDeliveries at the capped backoff, and alerts once per entry, for a backlog longer than one look at the pending list", async () => {
    const alerts: { id: string; deliveries: number }[] = [];
    const deliveries = new Map<string, number>();
    await startQueue(
      async (entry) => {
        deliveries.set(entry.id, (deliveries.get(entry.id) ?? 0) + 1);
        throw new Error("shard down");
      },
      {
        consumer: "c1",
        batch: 256,
        keepDelivering: true,
        onDeliveryLimit: async (entry) => {
          alerts.push({ id: entry.id, deliveries: entry.deliveries });
        },
      },
    );
    // More entries than one look at the pending list (100) takes.
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) ids.push(await enqueue(redis, stream, { n: String(i) }));
    // maxDeliveries is 3: every entry is delivered well past it, the last ones included.
    await waitFor(async () => ids.every((id) => (deliveries.get(id) ?? 0) >= 5), 20_000, "every entry past the limit");
    expect(await redis.xlen(keys.dead)).toBe(0);
    expect((await pendingRows()).length).toBe(150);
    // One alert per entry, at its third delivery.
    expect(new Set(alerts.map((a) => a.id)).size).toBe(150);
    expect(alerts).toHaveLength(150);
    expect(alerts.every((a) => a.deliveries === 3)).toBe(true);
  });
});

describe("operator views and moves on pending entries", () => {
  it("lists a failing pending entry with its consumer, deliveries, idle time, fields and last error", async () => {
    const { handler } = recorder(() => {
      throw new Error("shard s2 unreachable");
    });
    await startQueue(handler, { consumer: "c1", ...SLOW });
    const id = await enqueue(redis, stream, { tx: "tx-5", shard: "s2" });
    await waitFor(async () => (await redis.hget(keys.errors, id)) !== null, 10_000, "failure recorded");
    await sleep(50);

    const pending = await listPending(redis, stream, GROUP);
    expect(pending).toHaveLength(1);
    const row = pending[0]!;
    expect(row).toMatchObject({
      id,
      consumer: "c1",
      deliveries: 1,
      fields: { tx: "tx-5", shard: "s2" },
      lastError: "shard s2 unreachable",
    });
    expect(row.idleMs).toBeGreaterThanOrEqual(50);
    expect(row.idleMs).toBeLessThan(SLOW.baseDelayMs);
    expect(await readPending(redis, stream, GROUP, id)).toMatchObject({ id, consumer: "c1", lastError: "shard s2 unreachable" });
    expect(await readPending(redis, stream, GROUP, "1-0")).toBeNull();
  });

  it("retries a pending entry now, long before its backoff is over, without counting a delivery", async () => {
    const { calls, handler, of } = recorder((entry) => {
      if (entry.deliveries === 1) throw new Error("first try fails");
    });
    await startQueue(handler, { consumer: "c1", ...SLOW });
    const id = await enqueue(redis, stream, { tx: "tx-7" });
    await waitFor(async () => (await redis.hget(keys.errors, id)) !== null, 10_000, "first failure recorded");
    // Sitting out a 5 s backoff.
    await sleep(300);
    expect(of(id)).toHaveLength(1);
    expect((await pendingRows())[0]).toMatchObject([id, "c1", expect.any(Number), 1]);

    const startedAt = Date.now();
    expect(await retryNow(redis, stream, GROUP, id, SLOW.reclaimIdleMs)).toBe("c1");
    // retryNow itself counts no delivery.
    expect((await pendingRows())[0]![3]).toBe(1);
    await waitFor(async () => of(id).length === 2, 3_000, "second delivery");
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(of(id).map((c) => c.deliveries)).toEqual([1, 2]);
    await waitFor(async () => (await pendingCount()) === 0, 5_000, "acked");
    expect(await redis.hexists(keys.errors, id)).toBe(0);

    expect((await rejection(retryNow(redis, stream, GROUP, id, SLOW.reclaimIdleMs))).code).toBe("NOT_FOUND");
    expect((await rejection(retryNow(redis, stream, GROUP, "1-0", SLOW.reclaimIdleMs))).code).toBe("NOT_FOUND");
    expect(calls).toHaveLength(2);
  });
});

describe("a stream deleted under a running consumer", () => {
  it("keeps the consumer alive, recreates the group and delivers what is added afterwards", async () => {
    const { calls, handler } = recorder();
    await startQueue(handler, { consumer: "c1" });
    const first = await enqueue(redis, stream, { n: "0" });
    await waitFor(async () => calls.length === 1 && (await pendingCount()) === 0, 10_000, "first entry");
    expect(calls[0]!.id).toBe(first);

    // Deleted and refilled at once, before the consumer noticed.
    await redis.del(stream);
    const soon = [await enqueue(redis, stream, { n: "1" }), await enqueue(redis, stream, { n: "2" })];
    await waitFor(async () => calls.length === 3, 10_000, "entries added right after the DEL");
    expect(calls.slice(1).map((c) => c.id)).toEqual(soon);

    // Deleted, and refilled only after the consumer has been reading a missing stream for a while.
    await redis.del(stream);
    await sleep(1_000);
    const later = [await enqueue(redis, stream, { n: "3" }), await enqueue(redis, stream, { n: "4" })];
    await waitFor(async () => calls.length === 5 && (await pendingCount()) === 0, 10_000, "entries added later");
    expect(calls.slice(3).map((c) => c.id)).toEqual(later);
    expect(calls.every((c) => c.deliveries === 1)).toBe(true);
    const groups = (await redis.xinfo("GROUPS", stream)) as unknown[][];
    expect(groups).toHaveLength(1);
    expect(await redis.xlen(stream)).toBe(0);
  });
});
