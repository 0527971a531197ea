// Reads and moves on a queue's entries for operators, on any process connected to the same
// Redis (no StreamQueue needed): pending entries with their delivery counts, dead letters,
// and the atomic moves of server/queues/scripts.ts. Domain guards (what an entry stands
// for in the coordinator log) and auditing are the caller's: server/ops/queues.ts.
import type { Redis } from "ioredis";
import { CohortError } from "../errors";
import { queueScripts } from "./scripts";
import { deadLetterEntry, fieldsToRecord, queueKeys } from "./streamQueue";
import type { DeadLetter, PendingEntry } from "./types";

type RawEntry = [string, string[] | null];

const notPending = (stream: string, group: string, id: string) =>
  new CohortError("NOT_FOUND", `entry ${id} is not pending in ${stream} (${group}): delivered or moved meanwhile`);

export async function listPending(redis: Redis, stream: string, group: string, limit = 100): Promise<PendingEntry[]> {
  const rows = (await redis.xpending(stream, group, "-", "+", limit)) as [string, string, number, number][];
  if (rows.length === 0) return [];
  const keys = queueKeys(stream);
  const pipe = redis.pipeline();
  for (const [id] of rows) pipe.xrange(stream, id, id);
  pipe.hmget(keys.errors, ...rows.map(([id]) => id));
  const results = (await pipe.exec()) ?? [];
  const errors = (results[rows.length]?.[1] as (string | null)[] | undefined) ?? [];
  return rows.map(([id, consumer, idleMs, deliveries], i) => {
    const entry = (results[i]?.[1] as RawEntry[] | undefined)?.[0];
    return {
      id,
      consumer,
      idleMs,
      deliveries,
      fields: entry?.[1] ? fieldsToRecord(entry[1]) : null,
      lastError: errors[i] ?? null,
    };
  });
}

/** Newest first. */
export async function listDeadLetters(
  redis: Redis,
  stream: string,
  limit = 100,
): Promise<{ total: number; entries: DeadLetter[] }> {
  const dead = queueKeys(stream).dead;
  const [total, rows] = await Promise.all([
    redis.xlen(dead),
    redis.xrevrange(dead, "+", "-", "COUNT", limit) as Promise<[string, string[]][]>,
  ]);
  return { total, entries: rows.map(([id, flat]) => decodeDeadLetter(id, fieldsToRecord(flat))) };
}

export async function readDeadLetter(redis: Redis, stream: string, id: string): Promise<DeadLetter | null> {
  const rows = (await redis.xrange(queueKeys(stream).dead, id, id)) as [string, string[]][];
  const row = rows[0];
  return row ? decodeDeadLetter(row[0], fieldsToRecord(row[1])) : null;
}

export function decodeDeadLetter(id: string, all: Record<string, string>): DeadLetter {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) if (!k.startsWith("_")) fields[k] = v;
  return {
    id,
    fields,
    originalId: all._origin ?? "",
    group: all._group ?? "",
    deliveries: Number(all._deliveries ?? 0),
    error: all._error ?? "",
    by: all._by ?? "",
    at: Number(all._at ?? 0),
  };
}

export async function readPending(redis: Redis, stream: string, group: string, id: string): Promise<PendingEntry | null> {
  const rows = (await redis.xpending(stream, group, id, id, 1)) as [string, string, number, number][];
  const row = rows[0];
  if (!row) return null;
  const [entries, error] = await Promise.all([
    redis.xrange(stream, id, id) as Promise<[string, string[]][]>,
    redis.hget(queueKeys(stream).errors, id),
  ]);
  return {
    id,
    consumer: row[1],
    idleMs: row[2],
    deliveries: row[3],
    fields: entries[0] ? fieldsToRecord(entries[0][1]) : null,
    lastError: error,
  };
}

/**
 * Makes a pending entry due now (no delivery counted). `reclaimIdleMs` is the consumers'
 * reclaim threshold: the entry is made idle past it, so a live consumer takes it even if its
 * owner is gone. Throws NOT_FOUND when the entry is not pending.
 */
export async function retryNow(redis: Redis, stream: string, group: string, id: string, reclaimIdleMs: number): Promise<string> {
  const owner = await queueScripts(redis).retryNow([stream], [group, id, String(reclaimIdleMs + 1_000)]);
  if (!owner) throw notPending(stream, group, id);
  return owner;
}

/**
 * Gives a pending entry to `consumer` and makes it due for that consumer without counting a
 * delivery: idle `idleMs`, which the caller keeps past the longest backoff and below the
 * reclaim threshold, so the new owner retries it on its next tick and nobody else takes it.
 * Throws NOT_FOUND when it is not pending.
 */
export async function claimTo(
  redis: Redis,
  stream: string,
  group: string,
  id: string,
  consumer: string,
  idleMs: number,
): Promise<void> {
  const claimed = (await redis.xclaim(stream, group, consumer, 0, id, "IDLE", idleMs, "JUSTID")) as string[];
  if (claimed.length === 0) {
    throw notPending(stream, group, id);
  }
}

/** Moves a pending entry to the dead letters. Throws NOT_FOUND when it is not pending. */
export async function moveToDead(
  redis: Redis,
  stream: string,
  group: string,
  id: string,
  opts: { error: string; by: string; deleteFromStream: boolean },
): Promise<{ deadId: string; deliveries: number }> {
  const moved = await deadLetterEntry(redis, stream, group, id, opts);
  if (!moved) throw notPending(stream, group, id);
  return moved;
}

/** Puts a dead letter back on its stream. Throws NOT_FOUND when it is gone (requeued or purged meanwhile). */
export async function requeue(redis: Redis, stream: string, deadId: string): Promise<string> {
  const keys = queueKeys(stream);
  const [ok, id] = await queueScripts(redis).requeue([keys.dead, keys.stream], [deadId]);
  if (ok !== 1) throw new CohortError("NOT_FOUND", `dead letter ${deadId} is not in ${keys.dead}: requeued or purged meanwhile`);
  return String(id);
}

/**
 * Empties the dead letters if they are still exactly what the operator counted (length and
 * newest id); otherwise CONFLICT with what is there now.
 */
export async function purgeDead(redis: Redis, stream: string, expected: { count: number; lastId: string }): Promise<number> {
  const keys = queueKeys(stream);
  const [ok, n, lastId] = await queueScripts(redis).purge([keys.dead], [String(expected.count), expected.lastId]);
  if (ok !== 1) {
    throw new CohortError(
      "CONFLICT",
      `the dead letters changed since they were counted: ${n} now (newest ${lastId || "none"}), ${expected.count} expected (newest ${expected.lastId || "none"}); look again and confirm the new count`,
      { details: { count: Number(n), lastId: String(lastId ?? "") } },
    );
  }
  return Number(n);
}
