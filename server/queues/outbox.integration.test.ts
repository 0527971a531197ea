// The transactional outbox on real PostgreSQL shards and Redis: an event is visible if and
// only if its transaction commits, and a relay killed between its XADDs and its commit at
// random loses nothing: the consumer, which deduplicates by event id, ends with totals equal
// to what the shards' ledgers say was transferred.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CohortError } from "../errors";
import { readTransferTotals, startTransferTotals } from "../sim/transferTotals";
import { applyLeg } from "../sim/transfer";
import { startWorkload } from "../sim/workload";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { outboxStream, relayBatch, startOutboxRelay, type OutboxRelay } from "./outboxRelay";
import { fieldsToRecord } from "./streamQueue";

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 60, placement: "modulo" });
});
afterAll(async () => env?.cleanup());

/** Rows not on the stream yet (relayed rows are kept until the consumers are done: outboxRelay.ts). */
const outboxRows = async () =>
  Number((await env.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE relayed_at IS NULL")).rows[0]!.n);

async function streamEvents(): Promise<Record<string, string>[]> {
  const rows = (await env.redis.xrange(outboxStream(env.namespace), "-", "+")) as [string, string[]][];
  return rows.map(([, flat]) => fieldsToRecord(flat));
}

/** What the shards say was transferred: one positive ledger leg per committed transfer. */
async function ledgerTotals(): Promise<{ transfers: number; amount: number }> {
  let transfers = 0;
  let amount = 0;
  for (const shard of env.shards) {
    const { rows } = await shard.query<{ n: string; sum: string | null }>(
      "SELECT count(*) AS n, sum(delta) AS sum FROM ledger WHERE delta > 0",
    );
    transfers += Number(rows[0]!.n);
    amount += Number(rows[0]!.sum ?? 0);
  }
  return { transfers, amount };
}

describe("transactional outbox", () => {
  it("relays the events of committed transactions and never those of aborted ones", async () => {
    const engine = await env.engine();
    const committed: string[] = [];
    const aborted: string[] = [];
    for (let i = 0; i < 12; i++) {
      const tx = await engine.begin({ label: "test-outbox", timeoutMs: i % 4 === 3 ? 300 : 10_000 });
      const eventId = tx.publish({ aggregatetype: "test", aggregateid: tx.id, type: "test.happened", payload: { i } });
      await tx.run("shard-a", (c) => applyLeg(c, tx.id, 0, -1));
      await tx.run("shard-b", (c) => applyLeg(c, tx.id, 1, 1));
      if (i % 4 === 1) {
        await tx.abort("the application changed its mind");
        aborted.push(eventId);
      } else if (i % 4 === 3) {
        // Passes its deadline between the branches' work and commit: aborted at the commit point.
        await new Promise((r) => setTimeout(r, 400));
        await expect(tx.commit()).rejects.toBeInstanceOf(CohortError);
        aborted.push(eventId);
      } else {
        await tx.commit();
        committed.push(eventId);
      }
    }
    // A transaction with no branch work still commits its events (no decision record to ride in).
    const empty = await engine.begin({ label: "test-outbox-empty" });
    const emptyEvent = empty.publish({ aggregatetype: "test", aggregateid: empty.id, type: "test.empty", payload: null });
    await empty.commit();
    committed.push(emptyEvent);

    // The decisions moved every event into the outbox: no transaction row keeps a copy.
    const kept = await env.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM transactions WHERE outbox_events IS NOT NULL");
    expect(kept.rows[0]!.n).toBe("0");
    expect(await outboxRows()).toBe(committed.length);
    const relayed = await relayBatch({ pool: env.lazyDb.pool, redis: env.redis, stream: outboxStream(env.namespace) });
    expect(relayed).toBe(committed.length);
    expect(await outboxRows()).toBe(0);
    const events = await streamEvents();
    expect(events.map((e) => e.id).sort()).toEqual([...committed].sort());
    expect(events.some((e) => aborted.includes(e.id!))).toBe(false);
    const first = events.find((e) => e.type === "test.happened")!;
    expect(first).toMatchObject({ aggregatetype: "test" });
    expect(JSON.parse(first.payload!)).toHaveProperty("i");
    expect(Number(first.created_at)).toBeGreaterThan(Date.now() - 60_000);
    await engine.stop();
  });

  it("rejects malformed events at publish time", async () => {
    const engine = await env.engine();
    const tx = await engine.begin({ label: "test-outbox-bad" });
    expect(() => tx.publish({ aggregatetype: "", aggregateid: "x", type: "t", payload: 1 })).toThrow(/aggregatetype/);
    expect(() => tx.publish({ aggregatetype: "a", aggregateid: "x", type: "t", payload: "x".repeat(70_000) })).toThrow(/64 KiB/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => tx.publish({ aggregatetype: "a", aggregateid: "x", type: "t", payload: cyclic })).toThrow(/not JSON/);
    await tx.abort();
    await engine.stop();
  });

  it("loses no committed event when the relay is killed at random, and the consumer counts each once", async () => {
    await env.redis.del(outboxStream(env.namespace));
    const engine = await env.engine();
    const stream = outboxStream(env.namespace);
    const totals = await startTransferTotals({ redis: env.redis, namespace: env.namespace, consumer: "test" });
    let kills = 0;
    // Dies between its XADDs and its database commit a third of the time: the rows stay and
    // are relayed again, so the stream holds duplicates the consumer must drop.
    const flakyRelay = (): OutboxRelay =>
      startOutboxRelay({
        pool: env.lazyDb.pool,
        redis: env.redis,
        stream,
        pollMs: 20,
        batch: 7,
        afterPublish: () => {
          if (Math.random() < 0.33) {
            kills++;
            throw new Error("relay killed after XADD (test)");
          }
        },
      });
    const relays = [flakyRelay(), flakyRelay()];
    const before = await ledgerTotals();
    const wl = startWorkload(engine, { accounts: 60, concurrency: 6, rate: 0, placement: env.placement });
    // Stop and start relays at random while transfers commit.
    for (let round = 0; round < 8; round++) {
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 150));
      const victim = Math.floor(Math.random() * relays.length);
      await relays[victim]!.stop();
      relays[victim] = flakyRelay();
    }
    await wl.stop();
    expect(wl.stats.committed).toBeGreaterThan(20);
    await Promise.all(relays.map((r) => r.stop()));
    // A clean relay drains what the killed ones left.
    const clean = startOutboxRelay({ pool: env.lazyDb.pool, redis: env.redis, stream, pollMs: 20 });
    await waitFor(async () => (await outboxRows()) === 0, 20_000, "the outbox to drain");
    const after = await ledgerTotals();
    const expected = { transfers: after.transfers - before.transfers, amount: after.amount - before.amount };
    await waitFor(
      async () => {
        const t = await readTransferTotals(env.redis, env.namespace);
        return t.transfers >= expected.transfers ? t : null;
      },
      20_000,
      `the consumer to count ${expected.transfers} transfers`,
    );
    // Let any late duplicate arrive before comparing exactly.
    await new Promise((r) => setTimeout(r, 300));
    const t = await readTransferTotals(env.redis, env.namespace);
    expect({ transfers: t.transfers, amount: t.amount }).toEqual(expected);
    expect(kills).toBeGreaterThan(0);
    expect(t.duplicates).toBeGreaterThan(0);
    await clean.stop();
    await totals.stop();
    await engine.stop();
  });
});
