// The outbox relay (DESIGN.md §4): moves committed outbox rows from the coordinator
// database to the outbox stream, at least once, and loses none when Redis loses its data.
//
// Each batch is one database transaction: mark the oldest unrelayed rows (FOR UPDATE SKIP
// LOCKED, so several relays share the work), XADD them, record their entry ids, commit. A
// relay that dies after the XADD and before the commit leaves the rows unrelayed: they go
// out again and consumers drop the duplicate by event id.
//
// A relayed row is kept, not deleted: a Redis that restarts without persistence loses the
// stream, and the row is what puts its event back. Every Redis the relay writes to carries
// a marker key with a random value (the relay epoch), set by the relay; the XADDs run in one
// MULTI with a read of it, so an event is recorded as relayed only into a Redis that still
// had its marker. A Redis found without the marker lost its data: every kept row is marked
// unrelayed again, then the marker is set, and the rows go out once more. A kept row is
// deleted only when every consumer group of the Redis it went to has acknowledged its entry,
// after a retention window while Redis persists (AOF), or, with no consumer group at all,
// after a long retention window (nobody was reading it).
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type pg from "pg";
import { errorMessage } from "../errors";
import { registerStream, streamName } from "./streamQueue";

/** How many events the outbox stream keeps while no consumer group reads it. */
export const UNCONSUMED_MAXLEN = 1_000_000;

export function outboxStream(namespace: string): string {
  return streamName(namespace, "outbox");
}

/** The relay's marker key in the Redis holding `stream`: missing means that Redis lost its data. */
export function relayMarkerKey(stream: string): string {
  return `${stream}:relay-epoch`;
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
  /** Trims entries every group has acknowledged, and deletes their kept rows, this often. */
  trimEveryMs?: number;
  /** While Redis persists (AOF), kept rows are deleted this long after relaying even if unread. */
  persistentRetentionMs?: number;
  /** With no consumer group on the stream, kept rows are deleted this long after relaying. */
  unconsumedRetentionMs?: number;
  log?: (line: string) => void;
  /** Fault injection for tests: called after the XADDs and before the commit. */
  afterPublish?: (ids: string[]) => void | Promise<void>;
}

export interface OutboxRelay {
  /** Committed rows are waiting: relay now instead of at the next poll. */
  nudge(): void;
  /** Relays until no unrelayed row is left (tests, benchmarks). */
  drain(): Promise<number>;
  readonly relayed: number;
  stop(): Promise<void>;
}

/** The Redis the relay wrote to before has lost its data: the batch was rolled back. */
class RedisDataLost extends Error {}

/**
 * Makes sure the Redis holding the stream carries the relay's marker; when it does not
 * (first start, or the Redis lost its data), first marks every kept row unrelayed, so that
 * each event goes out again. Returns the marker value.
 */
export async function ensureRelayEpoch(opts: Pick<OutboxRelayOptions, "pool" | "redis" | "stream" | "log">): Promise<string> {
  const key = relayMarkerKey(opts.stream);
  const current = await opts.redis.get(key);
  if (current) return current;
  // Rows some relay is relaying right now are locked: this waits for them and resets them too.
  const reset = await opts.pool.query(
    "UPDATE outbox SET relayed_at = NULL, stream_id = NULL, relay_epoch = NULL WHERE relayed_at IS NOT NULL",
  );
  if (reset.rowCount) opts.log?.(`[outbox] Redis lost the stream: relaying ${reset.rowCount} kept event(s) again`);
  await opts.redis.set(key, randomBytes(12).toString("base64url"), "NX");
  const value = await opts.redis.get(key);
  if (!value) throw new RedisDataLost("the relay marker vanished right after it was set");
  return value;
}

/** Relays one batch; returns how many rows it moved. */
export async function relayBatch(opts: OutboxRelayOptions): Promise<number> {
  await ensureRelayEpoch(opts);
  const client = await opts.pool.connect();
  // pg emits 'error' on a checked-out client whose connection dies (a terminated backend),
  // and pg-pool listens only while the client is idle: without this the process would crash.
  let connectionError: Error | undefined;
  const onError = (err: Error) => {
    connectionError = err;
    opts.log?.(`[outbox] relay connection failed: ${errorMessage(err)}`);
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<Row>(
      `UPDATE outbox SET relayed_at = now()
       WHERE seq IN (SELECT seq FROM outbox WHERE relayed_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING seq::text, id::text, tx_id::text, aggregatetype, aggregateid, type, payload::text AS payload,
         (EXTRACT(EPOCH FROM created_at) * 1000)::float8 AS created_at`,
      [opts.batch ?? 500],
    );
    // RETURNING does not keep the subquery's order, hence the sort.
    rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    if (rows.length === 0) {
      await client.query("COMMIT");
      return 0;
    }
    const { epoch, ids } = await publish(
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
    await client.query(
      `UPDATE outbox o SET stream_id = v.stream_id, relay_epoch = $3
       FROM unnest($1::bigint[], $2::text[]) AS v(seq, stream_id) WHERE o.seq = v.seq`,
      [rows.map((r) => r.seq), ids, epoch],
    );
    if (opts.afterPublish) await opts.afterPublish(rows.map((r) => r.id));
    await client.query("COMMIT");
    return rows.length;
  } catch (err) {
    await client.query("ROLLBACK").catch((e: unknown) => (connectionError ??= e instanceof Error ? e : new Error(String(e))));
    throw err;
  } finally {
    client.off("error", onError);
    // A client whose connection failed is destroyed, never handed to the next caller.
    client.release(connectionError);
  }
}

/**
 * XADDs the events in one MULTI with a read of the relay's marker, so they are recorded as
 * relayed only into a Redis that kept its data since the marker was set. Throws
 * RedisDataLost (the caller rolls back) when the marker is gone.
 */
async function publish(
  redis: Redis,
  stream: string,
  entries: Record<string, string>[],
): Promise<{ epoch: string; ids: string[] }> {
  const multi = redis.multi().get(relayMarkerKey(stream));
  for (const fields of entries) multi.xadd(stream, "*", ...Object.entries(fields).flat());
  const results = await multi.exec();
  if (!results || results.length !== entries.length + 1) throw new Error(`the XADD transaction to ${stream} was cut short`);
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  const epoch = results[0]![1] as string | null;
  if (!epoch) throw new RedisDataLost(`Redis lost the relay marker of ${stream}: relaying again`);
  return { epoch, ids: results.slice(1).map(([, id]) => id as string) };
}

/**
 * Deletes kept rows nobody can need again: those whose entries every consumer group of the
 * Redis they went to has acknowledged; while Redis persists (AOF), those relayed longer
 * than `persistentRetentionMs` ago; with no consumer group, those relayed longer than
 * `unconsumedRetentionMs` ago. Returns how many rows it deleted.
 */
export async function retireRelayed(
  opts: Pick<OutboxRelayOptions, "pool" | "redis" | "stream" | "persistentRetentionMs" | "unconsumedRetentionMs">,
): Promise<number> {
  const multi = await opts.redis.multi().get(relayMarkerKey(opts.stream)).info("persistence").exec();
  const epoch = multi?.[0]?.[1] as string | null | undefined;
  if (!epoch) return 0; // lost data: the next batch re-relays the kept rows first
  const persistent = /^aof_enabled:1\s*$/m.test(String(multi?.[1]?.[1] ?? ""));
  const floor = await consumedFloor(opts.redis, opts.stream);
  let deleted = 0;
  if (floor) {
    const [ms, seq] = floor.split("-") as [string, string];
    // Entry ids of one Redis grow; the epoch keeps ids of a Redis that was replaced apart.
    const r = await opts.pool.query(
      `DELETE FROM outbox WHERE relayed_at IS NOT NULL AND relay_epoch = $1 AND stream_id IS NOT NULL
         AND (split_part(stream_id, '-', 1)::numeric, split_part(stream_id, '-', 2)::numeric) < ($2::numeric, $3::numeric)`,
      [epoch, ms, seq],
    );
    deleted += r.rowCount ?? 0;
  }
  const retentionMs = persistent
    ? (opts.persistentRetentionMs ?? 60_000)
    : floor === null
      ? (opts.unconsumedRetentionMs ?? 86_400_000)
      : null;
  if (retentionMs !== null) {
    const r = await opts.pool.query(
      "DELETE FROM outbox WHERE relayed_at < now() - make_interval(secs => $1::float8 / 1000) AND relay_epoch = $2",
      [retentionMs, epoch],
    );
    deleted += r.rowCount ?? 0;
  }
  return deleted;
}

/**
 * The id below which every consumer group has acknowledged every entry: its oldest pending
 * entry, else the entry after the last one it read. Null when the stream has no group.
 */
export async function consumedFloor(redis: Redis, stream: string): Promise<string | null> {
  const groups = (await redis.call("XINFO", "GROUPS", stream).catch(() => [])) as (string | number)[][];
  let floor: string | null = null;
  for (const g of groups) {
    const m = new Map<string, string | number>();
    for (let i = 0; i + 1 < g.length; i += 2) m.set(String(g[i]), g[i + 1]!);
    const name = String(m.get("name"));
    const summary = (await redis.xpending(stream, name)) as [number, string | null, string | null, unknown];
    const needed = summary[0] > 0 && summary[1] ? summary[1] : nextId(String(m.get("last-delivered-id") ?? "0-0"));
    if (floor === null || compareIds(needed, floor) < 0) floor = needed;
  }
  return floor;
}

/**
 * Deletes the entries every consumer group is done with (Redis 7.0 has no "trim
 * acknowledged" option); with no group, keeps a generous history for a group created later.
 */
export async function trimConsumed(redis: Redis, stream: string): Promise<number> {
  const floor = await consumedFloor(redis, stream);
  if (floor === null) return Number(await redis.xtrim(stream, "MAXLEN", "~", UNCONSUMED_MAXLEN).catch(() => 0));
  return Number(await redis.xtrim(stream, "MINID", floor));
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
          await retireRelayed(opts);
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
