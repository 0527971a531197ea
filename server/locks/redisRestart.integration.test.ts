// Redis restarted mid-run, empty (no persistence, as the local one runs): every lease,
// waiter and index entry is gone at once.
//
// What safety means then. Mutual exclusion in Redis cannot survive losing Redis's data:
// a client that held a lock before the restart still believes it does, while the empty
// Redis grants the same lock to the next client. Writes stay safe because of fencing on
// the shard: each write carries its grant's token, the row refuses tokens older than the
// newest it has seen (fencing.ts), and tokens stay monotonic across the loss because a
// Redis without its fencing epoch installs a new, higher one (the services here have no
// durable source, so it comes from the Redis clock: fencingEpoch.integration.test.ts covers
// the PostgreSQL sequence with the clock stepped back). So the guarantees checked here are: no
// lost update (the row's balance equals its start plus the writes it accepted), the old
// holder's late write is refused, and tokens issued after the restart outrank those
// issued before. The service itself reconnects, reloads its scripts (NOSCRIPT → EVAL)
// and resubscribes to its wake-up channel without help.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCohortError } from "../errors";
import { startLocalRedis, type LocalRedisHandle } from "../infra/localRedis";
import type { PostgresShard } from "../participants/postgresShard";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { accountFencing, compareTokens, runFenced } from "./fencing";
import { lockTestKit, sleep, type LockTestKit } from "./lockTestKit";
import type { LockGrant } from "./types";

let env: TestEnv;
let redis: LocalRedisHandle;
let kit: LockTestKit;
let shard: PostgresShard;

beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 4 });
  shard = env.shard("shard-a");
  redis = await startLocalRedis();
  kit = lockTestKit({ redisUrl: redis.url });
});
afterAll(async () => {
  await kit?.cleanup().catch(() => undefined);
  await redis?.stop();
  await env?.cleanup();
});

async function restartRedisEmpty(): Promise<void> {
  const port = Number(new URL(redis.url).port);
  await redis.stop();
  await sleep(300);
  redis = await startLocalRedis({ port });
}

const balance = async (id: number) =>
  Number((await shard.query<{ balance: string }>("SELECT balance FROM accounts WHERE id = $1", [id])).rows[0]!.balance);

describe("Redis restarting with its data lost", () => {
  it("keeps every write to the shard safe", async () => {
    const services = [kit.service(), kit.service()] as const;
    const startMain = await balance(0);
    const startPaused = await balance(1);

    // A holder that has claimed its row and stalls across the restart, with a long lease.
    const paused = await services[0].acquire({ key: "account:1", owner: "paused", ttlMs: 60_000 });
    const pausedRead = Number(
      (await runFenced<{ balance: string }>(shard, accountFencing.claim, [1, paused.token])).rows[0]!.balance,
    );

    // Meanwhile a steady workload of read-modify-writes on account 0 under its lock.
    let running = true;
    let phase: "before" | "after" = "before";
    const tokens = { before: [] as string[], after: [] as string[] };
    let applied = 0;
    let refused = 0;
    let redisErrors = 0;
    const worker = async (w: number) => {
      const locks = services[w % 2]!;
      for (let n = 0; running; n++) {
        let grant: LockGrant;
        try {
          grant = await locks.acquire({ key: "account:0", owner: `r${w}.${n}`, ttlMs: 2_000, waitMs: 3_000 });
        } catch {
          redisErrors++; // Redis down, or the wait ran out while it was
          await sleep(20);
          continue;
        }
        tokens[phase].push(grant.token);
        try {
          const seen = Number(
            (await runFenced<{ balance: string }>(shard, accountFencing.claim, [0, grant.token])).rows[0]!.balance,
          );
          await sleep(Math.random() * 3);
          await runFenced(shard, accountFencing.setBalance, [0, grant.token, seen + 1]);
          applied++;
        } catch (err) {
          if (!isCohortError(err, "STALE_TOKEN")) throw err;
          refused++;
        }
        await locks.release(grant).catch(() => undefined);
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    await waitFor(async () => applied >= 30, 10_000, "writes before the restart");

    await restartRedisEmpty();
    phase = "after";

    // The empty Redis hands the paused holder's lock to someone else at once.
    const next = await services[1].acquire({ key: "account:1", owner: "next", waitMs: 10_000 });
    expect(compareTokens(next.token, paused.token)).toBe(1);
    const nextRead = Number(
      (await runFenced<{ balance: string }>(shard, accountFencing.claim, [1, next.token])).rows[0]!.balance,
    );
    await runFenced(shard, accountFencing.setBalance, [1, next.token, nextRead + 10]);
    await services[1].release(next);

    const appliedAtRestart = applied;
    await waitFor(async () => applied >= appliedAtRestart + 30, 15_000, "writes after the restart");
    running = false;
    await Promise.all(workers);

    // The stalled holder resumes: its write is refused and its lease is gone.
    await expect(runFenced(shard, accountFencing.setBalance, [1, paused.token, pausedRead + 1])).rejects.toMatchObject({
      code: "STALE_TOKEN",
    });
    await expect(services[0].renew(paused)).rejects.toMatchObject({ code: "LOCK_LOST" });
    expect(await balance(1)).toBe(startPaused + 10);

    // No lost update: the row counts exactly the writes it accepted.
    expect(await balance(0)).toBe(startMain + applied);
    const lastBefore = tokens.before.reduce((a, b) => (compareTokens(a, b) >= 0 ? a : b));
    expect(tokens.after.length).toBeGreaterThan(0);
    for (const t of tokens.after) expect(compareTokens(t, lastBefore)).toBe(1);
    // Refusals and Redis errors are allowed (that is the point); they are only reported.
    console.info(
      `redis restart: ${applied} writes applied, ${refused} refused by the fence, ${redisErrors} acquire failures while Redis was down`,
    );
  });
});
