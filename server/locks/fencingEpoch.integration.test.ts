// Fencing tokens against a Redis whose clock steps back (live, by two hours) and which then
// restarts with its data lost while its clock is still behind. Tokens used to be
// max(last + 1, Redis clock in µs): the step back made fresh locks' tokens go back, and
// data loss with the clock behind made a new holder's token lower than the one a shard had
// already seen, so the shard refused the rightful holder and let the stale one write.
// Tokens are now epoch · 10^9 + a Redis counter, the epoch from a PostgreSQL sequence.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCohortError } from "../errors";
import type { PostgresShard } from "../participants/postgresShard";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { accountFencing, compareTokens, runFenced } from "./fencing";
import { pgFencingEpochSource } from "./fencingEpoch";
import { lockTestKit, type LockTestKit } from "./lockTestKit";
import { startClockShiftedRedis, type ClockShiftedRedis } from "../testing/clockShiftedRedis";

let env: TestEnv;
let redis: ClockShiftedRedis;
let kit: LockTestKit;
let shard: PostgresShard;

beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 4 });
  shard = env.shard("shard-a");
  redis = await startClockShiftedRedis();
  kit = lockTestKit({ redisUrl: redis.url });
});
afterAll(async () => {
  await kit?.cleanup().catch(() => undefined);
  await redis?.stop();
  await env?.cleanup();
});

const HOUR = 3_600_000;

describe("fencing tokens", () => {
  it("keep growing across a clock step back and a restart that lost Redis's data, and the shard refuses the stale holder", async () => {
    const locks = kit.service({ epochSource: pgFencingEpochSource(env.db.pool) });
    const issued: string[] = [];
    const takeAndGive = async (key: string) => {
      const g = await locks.acquire({ key, owner: `o-${issued.length}`, ttlMs: 5_000, waitMs: 2_000 });
      issued.push(g.token);
      await locks.release(g);
    };

    for (let i = 0; i < 5; i++) await takeAndGive(`k${i}`);
    // A holder with a long lease claims account 1 and then stalls.
    const stale = await locks.acquire({ key: "account:1", owner: "stale", ttlMs: 60_000 });
    issued.push(stale.token);
    await runFenced(shard, accountFencing.claim, [1, stale.token]);

    // Redis's clock steps back two hours, live.
    redis.setClockOffsetMs(-2 * HOUR);
    await waitFor(async () => Number((await kit.redis.time())[0]) < (Date.now() - HOUR) / 1000, 5_000, "the clock step");
    for (let i = 0; i < 5; i++) await takeAndGive(`k${i}`); // the same keys, and fresh ones
    for (let i = 5; i < 10; i++) await takeAndGive(`k${i}`);

    // Redis dies without persistence and comes back empty, its clock still behind (further).
    // (A marker of the test's own shows the data is gone: the fence key itself may already be
    // back, since the lock service installs a new epoch on every reconnection.)
    const marker = `${kit.namespace}:test:before-restart`;
    await kit.redis.set(marker, "1");
    redis.setClockOffsetMs(-3 * HOUR);
    await redis.restart();
    await waitFor(async () => (await kit.redis.ping()) === "PONG", 10_000, "the client to reconnect");
    expect(await kit.redis.exists(marker)).toBe(0);
    // The stale holder's lock is gone with the data: someone else takes it.
    const fresh = await waitFor(
      () => locks.acquire({ key: "account:1", owner: "fresh", ttlMs: 5_000, waitMs: 2_000 }).catch(() => null),
      10_000,
      "a grant after the restart",
    );
    issued.push(fresh.token);
    for (let i = 0; i < 5; i++) await takeAndGive(`k${i}`);

    // Every token outranks every token issued before it.
    for (let i = 1; i < issued.length; i++) {
      expect(compareTokens(issued[i]!, issued[i - 1]!), `token #${i} ${issued[i]} after ${issued[i - 1]}`).toBe(1);
    }
    expect(issued.every((t) => Number.isSafeInteger(Number(t)))).toBe(true);

    // The shard takes the fresh holder's writes and refuses the stale one's.
    const read = await runFenced<{ balance: string }>(shard, accountFencing.claim, [1, fresh.token]);
    await runFenced(shard, accountFencing.setBalance, [1, fresh.token, Number(read.rows[0]!.balance) + 1]);
    const late = await runFenced(shard, accountFencing.setBalance, [1, stale.token, 0]).catch((e: unknown) => e);
    expect(isCohortError(late, "STALE_TOKEN")).toBe(true);
  });

  it("take a new epoch when Redis comes back with its counter behind (AOF lost its last second, a replica behind)", async () => {
    const locks = kit.service({ epochSource: pgFencingEpochSource(env.db.pool) });
    const before = await locks.acquire({ key: "aof", owner: "a", ttlMs: 5_000 });
    await locks.release(before);
    // What a restart from an AOF missing its last writes looks like: the fence hash is there,
    // its counter behind what was handed out. Then the connection drops and comes back.
    await kit.redis.hset(`${kit.namespace}:locks:fence`, "n", "0");
    const connection = kit.connectionOf(locks);
    const reconnected = new Promise((r) => connection.once("ready", r));
    connection.disconnect(true);
    await reconnected;
    const after = await waitFor(async () => {
      const g = await locks.acquire({ key: "aof", owner: "b", ttlMs: 5_000 });
      await locks.release(g);
      return g;
    });
    expect(compareTokens(after.token, before.token), `${after.token} after ${before.token}`).toBe(1);
  });
});
