// Outbox events per second end to end (transfer commits → relay → outbox stream → a
// consumer group), next to raw XADD + XREADGROUP/XACK on the same Redis in the same run, and
// the time to collect the figures of 50 streams.
//
// What is measured, and why:
// - outbox_per_s: 32 workers run two-shard transfers that each publish one event through
//   tx.publish() (written by the COMMIT decision statement), at full speed, for a fixed
//   window. The relay runs as the demo runs it (startOutboxRelay on the engine's lazy pool,
//   woken by engine.onOutboxWritten), and one StreamQueue consumer (group "bench", batch 256,
//   deleteOnAck off as on the shared outbox stream) records every event's arrival. The figure
//   is the events whose handler ran inside the window, per second: a relay that falls behind
//   shows as a lower rate, not as a backlog we would silently drain later. Commit → consumer
//   latency is the arrival time minus the event's created_at (the decision statement's
//   now(), which the relay puts on the stream).
// - raw_per_s: 32 producers XADD entries of exactly the size of a real relayed event (the
//   fields of the first one the consumer saw) on an auto-pipelined client, as the engine's
//   client is, and one consumer reads them with XREADGROUP COUNT 256 and XACKs them on a
//   connection of its own: messages consumed per second. ratio = outbox_per_s / raw_per_s.
// - Every outbox event costs a full 2PC transaction (three coordinator-log statements, a
//   PREPARE and a COMMIT PREPARED on each shard), so the raw ratio is bounded by the 2PC rate,
//   not by the outbox. To see what the outbox itself costs, the same workload runs with
//   publish off too (bare_2pc_per_s, committed transfers per second), and outbox_vs_2pc =
//   outbox_per_s / bare_2pc_per_s: 1.0 would mean publishing is free; what is lost is the
//   extra rows in the forced decision statement plus the relay's work (DELETE … RETURNING,
//   XADD, COMMIT per batch) and the consumer's, competing for the same two cores.
// - relay_drain_per_s: the relay and consumer with no 2PC in front: 100,000 committed outbox
//   rows drained to the consumer (a burst, or the backlog of a relay outage). relay_vs_raw is
//   that against raw_per_s: the price of the relay's durability (a database transaction per
//   batch that deletes the rows only after their XADDs) over a bare XADD.
// - Phases alternate as in bench/engine.ts (raw, then bare 2PC and outbox in turn, in the
//   opposite order in the second round so the growth of the ledger and log tables does not
//   favour one side), after a warm-up of each. Between phases we wait until the relay and the
//   consumer drained, so no phase pays for the previous one's tail.
// - lost is computed, not assumed: every transfer issued with publish on is remembered by id;
//   after the last phase we wait (up to 30 s) until the outbox table is empty and the group has
//   read everything and has nothing pending, then ask the coordinator log which of them decided
//   COMMIT. lost = those whose event never reached the consumer. "phantom" counts the reverse
//   (events of transactions that did not commit), which must be 0 too.
// - stats_ms: 50 streams, each with a group, 100 entries, two consumers with 40 entries
//   pending between them, 20 unread, and a few dead letters on every fifth; collectFigures
//   over all 50 is timed 40 times after a warm-up, median reported (p95 among the extras).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import type { Config } from "../server/config";
import { collectFigures } from "../server/queues/figures";
import { outboxStream, startOutboxRelay, type OutboxRelay } from "../server/queues/outboxRelay";
import { queueKeys, StreamQueue } from "../server/queues/streamQueue";
import { transfer } from "../server/sim/transfer";
import { pickCrossShardPair } from "../server/sim/workload";
import { startBankBench } from "./bankBench";
import { cpuMeter, cpuPer } from "./cpu";
import { mean, percentile, round } from "./stats";

const CONCURRENCY = 32;
const ACCOUNTS = 20_000;
const GROUP = "bench";
const READ_COUNT = 256;
const STAT_STREAMS = 50;
const DRAIN_MS = 30_000;
/** Committed rows the relay-alone phase drains, marked with their own event type. */
const DRAIN_ROWS = 100_000;
const DRAIN_TYPE = "bench.drain";

type RawEntry = [string, string[] | null];

export async function benchQueues(config: Config, opts: { seconds: number; say: (l: string) => void }) {
  const namespace = `benchq${process.pid}`;
  const stream = outboxStream(namespace);
  const bench = await startBankBench(config, {
    shards: 2,
    accounts: ACCOUNTS,
    poolSize: CONCURRENCY,
    options: { namespace },
  });
  const { env, stack, placement } = bench;
  // Raw side: the engine's client settings for the producers; blocking reads need their own connection.
  const rawRedis = new Redis(env.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 3 });
  const rawReader = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
  let relay: OutboxRelay | null = null;
  let consumer: StreamQueue | null = null;
  try {
    // What the consumer saw. A window, when open, collects the arrivals that fall inside it.
    const seenEvents = new Set<string>();
    const arrivedTx = new Set<string>();
    let duplicates = 0;
    let sample: Record<string, string> | null = null;
    let window: { until: number; arrivals: number; latencies: number[]; batches: number[] } | null = null;
    consumer = new StreamQueue({
      redis: stack.redis,
      stream,
      group: GROUP,
      consumer: `bench-${process.pid}`,
      maxDeliveries: 10,
      baseDelayMs: 100,
      maxDelayMs: 5_000,
      reclaimIdleMs: 15_000,
      deleteOnAck: false,
      batch: READ_COUNT,
    });
    let drainArrivals = 0;
    await consumer.start(async (entry) => {
      const at = Date.now();
      if (entry.fields.type === DRAIN_TYPE) {
        drainArrivals++;
        return;
      }
      const id = entry.fields.id ?? entry.id;
      if (seenEvents.has(id)) {
        duplicates++;
        return;
      }
      seenEvents.add(id);
      arrivedTx.add(entry.fields.aggregateid ?? "");
      sample ??= entry.fields;
      if (window && performance.now() <= window.until) {
        window.arrivals++;
        window.latencies.push(at - Number(entry.fields.created_at));
      }
    });
    relay = startOutboxRelay({
      pool: stack.lazyDb.pool,
      redis: stack.redis,
      stream,
      // An observer, not a fault: the size of every batch the relay moved.
      afterPublish: (ids) => {
        if (window && performance.now() <= window.until) window.batches.push(ids.length);
      },
    });
    const relayNow = relay;
    stack.engine.onOutboxWritten(() => relayNow.nudge());

    /** Until the outbox table is empty and the group read and acknowledged all of the stream. */
    const drain = async (): Promise<boolean> => {
      const deadline = Date.now() + DRAIN_MS;
      for (;;) {
        const { rows } = await stack.db.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM outbox WHERE relayed_at IS NULL",
        );
        if (rows[0]!.n === 0) {
          const [figures] = await collectFigures(stack.redis, [stream]);
          const group = figures?.groups.find((g) => g.name === GROUP);
          if (figures && group && group.pending === 0 && group.lastDeliveredId === figures.lastId) return true;
        }
        if (Date.now() > deadline) return false;
        relayNow.nudge();
        await sleep(20);
      }
    };

    const publishedIds: string[] = [];
    let transferErrors = 0;
    /** Transfers at full speed for `seconds`; with `publish`, each commit publishes one event. */
    const transferRound = async (seconds: number, publish: boolean) => {
      let committed = 0;
      let running = true;
      const worker = async () => {
        while (running) {
          const [from, to] = pickCrossShardPair(ACCOUNTS, placement);
          try {
            const r = await transfer(stack.engine, placement, from, to, 1 + Math.floor(Math.random() * 100), undefined, {
              publish,
            });
            if (publish) publishedIds.push(r.id);
            if (r.outcome === "committed" || r.outcome === "committing") committed++;
          } catch {
            transferErrors++;
          }
        }
      };
      const started = performance.now();
      const w = { until: Infinity, arrivals: 0, latencies: [] as number[], batches: [] as number[] };
      if (publish) window = w;
      const cpu = cpuMeter();
      const workers = Array.from({ length: CONCURRENCY }, worker);
      await sleep(seconds * 1000);
      running = false;
      w.until = performance.now();
      const elapsed = (w.until - started) / 1000;
      const used = cpu();
      const { rows } = await stack.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE relayed_at IS NULL");
      const backlog = rows[0]!.n;
      await Promise.all(workers);
      window = null;
      const drained = publish ? await drain() : true;
      return {
        committed,
        arrivals: w.arrivals,
        latencies: w.latencies,
        batches: w.batches,
        elapsed,
        cpu: used,
        backlog,
        drained,
      };
    };

    /** Raw XADD by CONCURRENCY producers, one XREADGROUP COUNT 256 + XACK consumer: messages consumed. */
    const rawStream = `${namespace}:q:raw`;
    const rawRound = async (seconds: number) => {
      const fields = Object.entries(sample ?? {}).flat();
      const idAt = fields.indexOf("id") + 1;
      await rawRedis.del(rawStream);
      await rawRedis.xgroup("CREATE", rawStream, GROUP, "$", "MKSTREAM");
      let running = true;
      let produced = 0;
      let consumed = 0;
      const producer = async () => {
        const mine = [...fields];
        while (running) {
          if (idAt > 0) mine[idAt] = randomUUID();
          await rawRedis.xadd(rawStream, "*", ...mine);
          produced++;
        }
      };
      const reader = async () => {
        while (running) {
          const reply = (await rawReader.xreadgroup(
            "GROUP",
            GROUP,
            "raw",
            "COUNT",
            READ_COUNT,
            "BLOCK",
            100,
            "STREAMS",
            rawStream,
            ">",
          )) as [string, RawEntry[]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          if (entries.length === 0) continue;
          if (running) consumed += entries.length;
          await rawReader.xack(rawStream, GROUP, ...entries.map(([id]) => id));
        }
      };
      const started = performance.now();
      const cpu = cpuMeter();
      const loops = [reader(), ...Array.from({ length: CONCURRENCY }, producer)];
      await sleep(seconds * 1000);
      running = false;
      const elapsed = (performance.now() - started) / 1000;
      const used = cpu();
      await Promise.all(loops);
      await rawRedis.del(rawStream);
      return { consumed, produced, elapsed, cpu: used };
    };

    opts.say(`queues bench: warming up (concurrency ${CONCURRENCY}, ${ACCOUNTS} accounts on 2 shards, Redis ${env.redisUrl})`);
    const warm = await transferRound(1, true);
    if (!sample) throw new Error(`no outbox event reached the consumer during the warm-up (${warm.committed} commits)`);
    const entryBytes = Object.entries(sample as Record<string, string>).reduce((n, [k, v]) => n + k.length + v.length, 0);
    await rawRound(1);
    await transferRound(1, false);

    const rounds = 2;
    const per = opts.seconds / rounds;
    const raw = { consumed: 0, produced: 0, elapsed: 0 };
    const bare = { committed: 0, elapsed: 0 };
    const outbox = { committed: 0, arrivals: 0, elapsed: 0, backlog: 0, undrained: 0 };
    const latencies: number[] = [];
    const batches: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const r = await rawRound(per / 2);
      Object.assign(raw, {
        consumed: raw.consumed + r.consumed,
        produced: raw.produced + r.produced,
        elapsed: raw.elapsed + r.elapsed,
      });
      opts.say(
        `  round ${i + 1}: raw      ${round(r.consumed / r.elapsed, 0)} msg/s consumed (${round(r.produced / r.elapsed, 0)} produced), ${cpuPer(r.consumed, r.cpu, "msg")}`,
      );
      for (const publish of i % 2 === 0 ? [false, true] : [true, false]) {
        const t = await transferRound(per, publish);
        if (!publish) {
          Object.assign(bare, { committed: bare.committed + t.committed, elapsed: bare.elapsed + t.elapsed });
          opts.say(`  round ${i + 1}: bare 2PC ${round(t.committed / t.elapsed, 0)} tx/s, ${cpuPer(t.committed, t.cpu, "tx")}`);
          continue;
        }
        outbox.committed += t.committed;
        outbox.arrivals += t.arrivals;
        outbox.elapsed += t.elapsed;
        outbox.backlog = Math.max(outbox.backlog, t.backlog);
        if (!t.drained) outbox.undrained++;
        latencies.push(...t.latencies);
        batches.push(...t.batches);
        const sorted = [...t.latencies].sort((a, b) => a - b);
        opts.say(
          `  round ${i + 1}: outbox   ${round(t.arrivals / t.elapsed, 0)} events/s at the consumer (${round(t.committed / t.elapsed, 0)} commits/s), ` +
            `${cpuPer(t.arrivals, t.cpu, "event")}; commit→consumer p50 ${percentile(sorted, 50)} ms, p99 ${percentile(sorted, 99)} ms; ` +
            `relay batches ${t.batches.length} (mean ${round(mean(t.batches), 1)}), outbox rows left at the end ${t.backlog}${t.drained ? "" : ", NOT DRAINED"}`,
        );
      }
    }

    // Lost: committed (per the coordinator log) with publish on, never seen by the consumer.
    const drained = await drain();
    const { rows: committedRows } = await stack.db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM transactions WHERE id = ANY($1::uuid[]) AND decision = 'COMMIT'",
      [publishedIds],
    );
    const committedIds = new Set(committedRows.map((r) => r.id));
    const lost = [...committedIds].filter((id) => !arrivedTx.has(id));
    const phantom = [...arrivedTx].filter((id) => !committedIds.has(id)).length;
    opts.say(
      `  lost check: ${publishedIds.length} publishing transfers, ${committedIds.size} committed in the log, ${arrivedTx.size} events arrived, ` +
        `${lost.length} lost, ${phantom} phantom, ${duplicates} duplicate deliveries${drained ? "" : ` (not drained after ${DRAIN_MS / 1000} s)`}`,
    );
    if (lost.length > 0) opts.say(`  lost, e.g.: ${lost.slice(0, 5).join(", ")}`);

    // The relay alone: a backlog of committed rows (as a burst of commits, or a relay outage,
    // leaves) drained to the consumer. No 2PC in the way, so this is the pipeline's own ceiling:
    // each batch is one database transaction (DELETE … RETURNING, the XADDs, COMMIT).
    await relay.stop();
    await stack.db.pool.query(
      `INSERT INTO outbox (id, tx_id, aggregatetype, aggregateid, type, payload)
       SELECT gen_random_uuid(), gen_random_uuid(), 'transfer', gen_random_uuid()::text, $2, $3::jsonb
       FROM generate_series(1, $1)`,
      [DRAIN_ROWS, DRAIN_TYPE, JSON.stringify({ from: 123456, to: 654321, amount: 42 })],
    );
    drainArrivals = 0;
    const drainStarted = performance.now();
    relay = startOutboxRelay({ pool: stack.lazyDb.pool, redis: stack.redis, stream });
    const drainDeadline = Date.now() + DRAIN_MS;
    while (drainArrivals < DRAIN_ROWS && Date.now() < drainDeadline) await sleep(5);
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const relayDrainRate = drainArrivals / drainSeconds;
    opts.say(
      `  relay alone: ${drainArrivals} of ${DRAIN_ROWS} committed rows to the consumer in ${round(drainSeconds, 2)} s = ${round(relayDrainRate, 0)} events/s`,
    );

    const stats = await benchFigures(stack.redis, namespace);
    opts.say(`  figures of ${STAT_STREAMS} streams: median ${round(stats.p50, 2)} ms, p95 ${round(stats.p95, 2)} ms`);

    latencies.sort((a, b) => a - b);
    batches.sort((a, b) => a - b);
    const outboxRate = outbox.arrivals / outbox.elapsed;
    const rawRate = raw.consumed / raw.elapsed;
    const bareRate = bare.committed / bare.elapsed;
    return {
      outbox_per_s: round(outboxRate, 1),
      raw_per_s: round(rawRate, 1),
      ratio: round(outboxRate / rawRate, 4),
      stats_ms: round(stats.p50, 2),
      lost: lost.length,
      // Context: the ratio is bounded by what a 2PC transaction costs, so this is the outbox's own cost.
      bare_2pc_per_s: round(bareRate, 1),
      outbox_vs_2pc: round(outboxRate / bareRate, 3),
      outbox_commits_per_s: round(outbox.committed / outbox.elapsed, 1),
      // The relay and consumer without 2PC in front: a committed backlog drained.
      relay_drain_per_s: round(relayDrainRate, 1),
      relay_vs_raw: round(relayDrainRate / rawRate, 3),
      e2e_p50_ms: percentile(latencies, 50),
      e2e_p99_ms: percentile(latencies, 99),
      relay_batch_mean: round(mean(batches), 1),
      relay_batch_max: batches.at(-1) ?? 0,
      max_backlog_rows: outbox.backlog,
      raw_produced_per_s: round(raw.produced / raw.elapsed, 1),
      entry_bytes: entryBytes,
      stats_p95_ms: round(stats.p95, 2),
      committed_published: committedIds.size,
      phantom,
      duplicates,
      transfer_errors: transferErrors,
      drained: drained && outbox.undrained === 0,
    };
  } finally {
    await relay?.stop().catch(() => undefined);
    await consumer?.stop().catch(() => undefined);
    // Leave a shared Redis as we found it.
    await deleteNamespace(rawRedis, namespace).catch(() => undefined);
    rawRedis.disconnect();
    rawReader.disconnect();
    await bench.close();
  }
}

/**
 * 50 streams shaped like live queues, then collectFigures over all of them: each stream has
 * 100 entries and a group whose two consumers hold 40 pending (20 each) and left 20 unread;
 * every fifth stream has dead letters. Median and p95 of 40 timed calls after 5 untimed.
 */
async function benchFigures(redis: Redis, namespace: string): Promise<{ p50: number; p95: number }> {
  const streams = Array.from({ length: STAT_STREAMS }, (_, i) => `${namespace}:q:s${i}`);
  const setup = redis.pipeline();
  for (const [i, s] of streams.entries()) {
    setup.xgroup("CREATE", s, "workers", "0", "MKSTREAM");
    for (let k = 0; k < 100; k++) setup.xadd(s, "*", "tx", randomUUID(), "shard", `shard-${k % 2}`, "n", String(k));
    if (i % 5 === 0) for (let k = 0; k < 3; k++) setup.xadd(queueKeys(s).dead, "*", "_error", "boom", "_deliveries", "20");
  }
  await setup.exec();
  for (const s of streams) {
    const a = (await redis.xreadgroup("GROUP", "workers", "c1", "COUNT", 60, "STREAMS", s, ">")) as [string, RawEntry[]][];
    await redis.xreadgroup("GROUP", "workers", "c2", "COUNT", 20, "STREAMS", s, ">");
    const ids = (a[0]?.[1] ?? []).slice(0, 40).map(([id]) => id);
    await redis.xack(s, "workers", ...ids);
  }
  const check = await collectFigures(redis, streams);
  const pending = check.reduce((n, f) => n + (f.groups[0]?.pending ?? 0), 0);
  if (check.length !== STAT_STREAMS || pending !== STAT_STREAMS * 40) {
    throw new Error(`figures look wrong: ${check.length} streams, ${pending} pending (expected ${STAT_STREAMS * 40})`);
  }
  for (let i = 0; i < 5; i++) await collectFigures(redis, streams);
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    await collectFigures(redis, streams);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

async function deleteNamespace(redis: Redis, namespace: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
}
