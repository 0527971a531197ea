// The outbox under two faults the relay used to lose events or the process to: a Redis
// restarting without persistence after events were relayed and before a consumer read them
// (the relay deleted each row once XADD answered), and the relay's database connection
// terminated in the middle of a batch (a checked-out pg client without an 'error' listener
// crashes the process).
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalRedis, type LocalRedisHandle } from "../infra/localRedis";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { outboxStream, relayBatch, startOutboxRelay } from "./outboxRelay";
import { ensureGroup, StreamQueue } from "./streamQueue";

let env: TestEnv;
let redisServer: LocalRedisHandle;
const clients: Redis[] = [];

beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 1 });
  redisServer = await startLocalRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redisServer?.stop();
  await env?.cleanup();
});

function connect(): Redis {
  const c = new Redis(redisServer.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  c.on("error", () => undefined);
  clients.push(c);
  return c;
}

const unrelayed = async () =>
  Number((await env.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE relayed_at IS NULL")).rows[0]!.n);
const kept = async () => Number((await env.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox")).rows[0]!.n);

/** N committed events, as the COMMIT decision statement writes them. */
async function commitEvents(n: number, type: string): Promise<string[]> {
  const { rows } = await env.db.pool.query<{ id: string }>(
    `INSERT INTO outbox (id, tx_id, aggregatetype, aggregateid, type, payload)
     SELECT gen_random_uuid(), gen_random_uuid(), 'test', 'agg-' || i, $2, jsonb_build_object('i', i)
     FROM generate_series(1, $1::int) AS i RETURNING id::text`,
    [n, type],
  );
  return rows.map((r) => r.id);
}

describe("outbox durability", () => {
  it("loses no event when Redis restarts empty before the consumer read it", async () => {
    const redis = connect();
    const stream = outboxStream(`${env.namespace}a`);
    // The consumer group exists before the events (the consumer is deployed, just behind).
    await ensureGroup(redis, stream, "readers");
    const events = await commitEvents(40, "test.lost");
    let moved = 0;
    for (let n = -1; n !== 0; moved += n) n = await relayBatch({ pool: env.db.pool, redis, stream, batch: 15 });
    expect(moved).toBe(40);
    expect(await unrelayed()).toBe(0);
    expect(Number(await redis.xlen(stream))).toBe(40);

    // Redis dies (no persistence) before anybody read the stream, and comes back empty.
    const port = Number(new URL(redisServer.url).port);
    await redisServer.stop();
    redisServer = await startLocalRedis({ port });
    await waitFor(async () => (await redis.ping()) === "PONG", 10_000, "the client to reconnect");
    expect(Number(await redis.exists(stream))).toBe(0);

    const relay = startOutboxRelay({ pool: env.db.pool, redis, stream, pollMs: 20, trimEveryMs: 100 });
    const seen = new Map<string, number>();
    const consumer = new StreamQueue({
      redis: connect(),
      stream,
      group: "readers",
      consumer: "c1",
      maxDeliveries: 5,
      baseDelayMs: 20,
      maxDelayMs: 100,
      reclaimIdleMs: 1_000,
      deleteOnAck: false,
    });
    await consumer.start(async (entry) => {
      const id = entry.fields.id!;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    });
    try {
      await waitFor(async () => events.every((id) => seen.has(id)), 15_000, "the consumer to get every event");
      // Exactly once after dedupe by event id: every event, nothing else.
      expect([...seen.keys()].sort()).toEqual([...events].sort());
      // Once the group acknowledged them, the kept rows go.
      await waitFor(async () => (await kept()) === 0, 10_000, "the relay to delete the acknowledged rows");
    } finally {
      await consumer.stop();
      await relay.stop();
    }
  });

  it("survives its database connection being terminated mid-batch and relays the events later", async () => {
    const redis = connect();
    const stream = outboxStream(`${env.namespace}b`);
    const appName = `relay-${env.namespace}`;
    const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2, application_name: appName });
    pool.on("error", () => undefined);
    const events = await commitEvents(10, "test.terminated");
    let terminated = 0;
    try {
      await expect(
        relayBatch({
          pool,
          redis,
          stream,
          afterPublish: async () => {
            const { rows } = await env.db.pool.query<{ ok: boolean }>(
              "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1",
              [appName],
            );
            terminated = rows.filter((r) => r.ok).length;
            // Let the FATAL message arrive while the client is idle in its transaction.
            await new Promise((r) => setTimeout(r, 300));
          },
        }),
      ).rejects.toThrow();
      expect(terminated).toBe(1);
      expect(await unrelayed()).toBe(10);
      // The next batch runs on a fresh connection and relays them.
      expect(await relayBatch({ pool, redis, stream })).toBe(10);
      const ids = ((await redis.xrange(stream, "-", "+")) as [string, string[]][]).map(([, f]) => f[f.indexOf("id") + 1]);
      expect(new Set(ids)).toEqual(new Set(events));
    } finally {
      await pool.end();
    }
  });
});
