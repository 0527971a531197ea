// The outbox relay (DESIGN.md §4): moves committed outbox rows from the coordinator
// database to the outbox stream, at least once.
//
// Each batch is one database transaction: delete the oldest rows and take them (FOR UPDATE
// SKIP LOCKED, so several relays share the work), XADD them, then commit. A relay that dies
// after the XADD and before the commit leaves the rows in place: they are relayed again and
// consumers see a duplicate, which they drop by event id. Nothing committed is ever lost,
// because a row leaves the table only in a commit that follows its XADD.
import type { Redis } from "ioredis";
import type pg from "pg";
import { errorMessage } from "../errors";
import { enqueueAll, registerStream, streamName } from "./streamQueue";

/** How many events the outbox stream keeps while no consumer group reads it. */
export const UNCONSUMED_MAXLEN = 1_000_000;

export function outboxStream(namespace: string): string {
  return streamName(namespace, "outbox");
}

interface Row {
  seq: string;
  id: string;
  tx_id: string;
  aggregatetype: string;
  aggregateid: string;
  type: string;
  payload: string;
  created_at: number;
}

export interface OutboxRelayOptions {
  pool: pg.Pool;
  redis: Redis;
  stream: string;
  /** Rows per database transaction. */
  batch?: number;
  /** How often to look for rows written by other processes; this process's engine wakes the relay at once. */
  pollMs?: number;
  /** Trims entries every group has acknowledged, this often. */
  trimEveryMs?: number;
  log?: (line: string) => void;
  /** Fault injection for tests: called after the XADDs and before the commit. */
  afterPublish?: (ids: string[]) => void | Promise<void>;
}

export interface OutboxRelay {
  /** Committed rows are waiting: relay now instead of at the next poll. */
  nudge(): void;
  /** Relays until the table is empty (tests, benchmarks). */
  drain(): Promise<number>;
  readonly relayed: number;
  stop(): Promise<void>;
}

/** Relays one batch; returns how many rows it moved. */
export async function relayBatch(opts: OutboxRelayOptions): Promise<number> {
  const client = await opts.pool.connect();
  try {
    await client.query("BEGIN");
    // Delete-and-return in one statement: if the XADDs or the commit fail, the rollback puts
    // the rows back. RETURNING does not keep the subquery's order, hence the sort.
    const { rows } = await client.query<Row>(
      `DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING seq::text, id::text, tx_id::text, aggregatetype, aggregateid, type, payload::text AS payload,
         (EXTRACT(EPOCH FROM created_at) * 1000)::float8 AS created_at`,
      [opts.batch ?? 500],
    );
    rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    if (rows.length === 0) {
      await client.query("COMMIT");
      return 0;
    }
    await enqueueAll(
      opts.redis,
      opts.stream,
      rows.map((r) => ({
        id: r.id,
        tx: r.tx_id,
        aggregatetype: r.aggregatetype,
        aggregateid: r.aggregateid,
        type: r.type,
        payload: r.payload,
        created_at: String(Math.round(r.created_at)),
      })),
    );
    if (opts.afterPublish) await opts.afterPublish(rows.map((r) => r.id));
    await client.query("COMMIT");
    return rows.length;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Deletes the entries every consumer group is done with: older than each group's oldest
 * pending entry and than what it last read. Redis 7.0 has no "trim acknowledged" option.
 */
export async function trimConsumed(redis: Redis, stream: string): Promise<number> {
  const groups = (await redis.call("XINFO", "GROUPS", stream).catch(() => [])) as (string | number)[][];
  // Nobody consumes yet: keep a generous history for a group created later, not everything.
  if (groups.length === 0) return Number(await redis.xtrim(stream, "MAXLEN", "~", UNCONSUMED_MAXLEN).catch(() => 0));
  let floor: string | null = null;
  for (const g of groups) {
    const m = new Map<string, string | number>();
    for (let i = 0; i + 1 < g.length; i += 2) m.set(String(g[i]), g[i + 1]!);
    const name = String(m.get("name"));
    const summary = (await redis.xpending(stream, name)) as [number, string | null, string | null, unknown];
    const needed = summary[0] > 0 && summary[1] ? summary[1] : nextId(String(m.get("last-delivered-id") ?? "0-0"));
    if (floor === null || compareIds(needed, floor) < 0) floor = needed;
  }
  return floor ? Number(await redis.xtrim(stream, "MINID", floor)) : 0;
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint];
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}

function nextId(id: string): string {
  const [ms, seq] = id.split("-") as [string, string];
  return `${ms}-${BigInt(seq) + 1n}`;
}

export function startOutboxRelay(opts: OutboxRelayOptions): OutboxRelay {
  const pollMs = opts.pollMs ?? 100;
  const trimEveryMs = opts.trimEveryMs ?? 5_000;
  let stopped = false;
  let relayed = 0;
  let wake: (() => void) | null = null;
  /** A nudge that arrived while a batch ran: go again instead of sleeping. */
  let nudged = false;
  let failing = false;
  let lastTrim = Date.now();

  const loop = (async () => {
    await registerStream(opts.redis, opts.stream).catch(() => undefined);
    while (!stopped) {
      let moved = 0;
      nudged = false;
      try {
        moved = await relayBatch(opts);
        relayed += moved;
        if (Date.now() - lastTrim >= trimEveryMs) {
          lastTrim = Date.now();
          await trimConsumed(opts.redis, opts.stream);
        }
        failing = false;
      } catch (err) {
        if (!failing) opts.log?.(`[outbox] relay failed, retrying: ${errorMessage(err)}`);
        failing = true;
      }
      // A full batch means more is waiting: go again at once.
      if (moved >= (opts.batch ?? 500) || stopped || (nudged && !failing)) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(
          () => {
            wake = null;
            resolve();
          },
          failing ? 1_000 : pollMs,
        );
        wake = () => {
          clearTimeout(t);
          wake = null;
          resolve();
        };
      });
    }
  })();

  return {
    nudge: () => {
      nudged = true;
      wake?.();
    },
    drain: async () => {
      let total = 0;
      for (;;) {
        const n = await relayBatch(opts);
        total += n;
        relayed += n;
        if (n === 0) return total;
      }
    },
    get relayed() {
      return relayed;
    },
    stop: async () => {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
