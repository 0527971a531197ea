// Fencing against a real shard row: the sim's accounts table has `fence bigint`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CohortError } from "../errors";
import type { PostgresShard } from "../participants/postgresShard";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { accountFencing, compareTokens, fencedUpdateSql, runFenced } from "./fencing";
import { lockTestKit, sleep, type LockTestKit } from "./lockTestKit";

let env: TestEnv;
let kit: LockTestKit;
let shard: PostgresShard;

beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 10 });
  kit = lockTestKit();
  shard = env.shard("shard-a");
});
afterAll(async () => {
  await kit?.cleanup();
  await env?.cleanup();
});

const row = async (id: number) => {
  const { rows } = await shard.query<{ balance: string; fence: string }>("SELECT balance, fence FROM accounts WHERE id = $1", [
    id,
  ]);
  return { balance: Number(rows[0]!.balance), fence: rows[0]!.fence };
};

describe("fencing on the shard", () => {
  it("builds the statements", () => {
    expect(fencedUpdateSql({ table: "accounts", keyColumn: "id", set: "balance = $3::bigint" })).toBe(
      "UPDATE accounts SET balance = $3::bigint, fence = $2::bigint WHERE id = $1 AND fence <= $2::bigint",
    );
    expect(() => fencedUpdateSql({ table: "accounts; drop", keyColumn: "id" })).toThrow();
  });

  it("refuses the late write of a paused holder whose lock was taken by another", async () => {
    const locks = [kit.service(), kit.service()] as const;
    const start = await row(1);

    // A takes the lock, claims the row (reading it) and then stalls past its lease.
    const a = await locks[0].acquire({ key: "account:1", owner: "tx-a", ttlMs: 300 });
    const read = await runFenced<{ balance: string }>(shard, accountFencing.claim, [1, a.token]);
    const seenByA = Number(read.rows[0]!.balance);
    await sleep(400);

    // B gets the lock once A's lease is over, and does its whole read-modify-write.
    const b = await locks[1].acquire({ key: "account:1", owner: "tx-b", waitMs: 5_000 });
    expect(compareTokens(b.token, a.token)).toBe(1);
    const bRead = await runFenced<{ balance: string }>(shard, accountFencing.claim, [1, b.token]);
    await runFenced(shard, accountFencing.setBalance, [1, b.token, Number(bRead.rows[0]!.balance) + 10]);

    // A wakes up and writes what it computed from its stale read: refused by the row.
    const late = await runFenced(shard, accountFencing.setBalance, [1, a.token, seenByA + 1]).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(CohortError);
    expect((late as CohortError).code).toBe("STALE_TOKEN");
    expect(await row(1)).toEqual({ balance: start.balance + 10, fence: b.token });
    await expect(locks[0].renew(a)).rejects.toMatchObject({ code: "LOCK_LOST" });
    await locks[1].release(b);
  });

  it("refuses the older holder even when the newer one has only read so far", async () => {
    // The claim raises the fence at read time: this is what rules out a lost update when
    // two clients believe they hold the lock (a paused holder, or Redis that lost its data).
    const locks = kit.service();
    const older = await locks.acquire({ key: "account:2", owner: "tx-old", ttlMs: 200 });
    await runFenced(shard, accountFencing.claim, [2, older.token]);
    await sleep(300);
    const newer = await locks.acquire({ key: "account:2", owner: "tx-new" });
    const seen = Number((await runFenced<{ balance: string }>(shard, accountFencing.claim, [2, newer.token])).rows[0]!.balance);
    await expect(runFenced(shard, accountFencing.setBalance, [2, older.token, 0])).rejects.toMatchObject({ code: "STALE_TOKEN" });
    await runFenced(shard, accountFencing.setBalance, [2, newer.token, seen + 1]);
    expect((await row(2)).balance).toBe(seen + 1);
    await locks.release(newer);
  });

  it("loses no increment of a PostgreSQL row under contention", async () => {
    const services = [kit.service(), kit.service(), kit.service()];
    const start = await row(3);
    let applied = 0;
    const worker = async (w: number) => {
      const locks = services[w % services.length]!;
      for (let i = 0; i < 10; i++) {
        const grant = await locks.acquire({ key: "account:3", owner: `inc-${w}.${i}`, ttlMs: 10_000, waitMs: 30_000 });
        // Read and write as two separate autocommit statements: only the lock (and the
        // fence behind it) keeps another worker out between them.
        const { rows } = await runFenced<{ balance: string }>(shard, accountFencing.claim, [3, grant.token]);
        await sleep(Math.random() * 2);
        await runFenced(shard, accountFencing.setBalance, [3, grant.token, Number(rows[0]!.balance) + 1]);
        applied++;
        await locks.release(grant);
      }
    };
    await Promise.all(Array.from({ length: 24 }, (_, w) => worker(w)));
    expect(applied).toBe(240);
    expect((await row(3)).balance).toBe(start.balance + 240);
  });
});
