// A reliable work queue on one Redis stream and consumer group (DESIGN.md §4).
//
// Delivery is at least once. An entry a handler fails on stays in the group's pending list,
// and its own consumer claims it again (XCLAIM) once it has been idle for the backoff of its
// delivery count, so the backoff schedule lives in Redis and survives restarts. Entries whose
// consumer died are taken by any live consumer once idle past `reclaimIdleMs` (XAUTOCLAIM),
// which must exceed the longest backoff so live consumers' retries are never stolen. After
// `maxDeliveries` deliveries an entry moves to `<stream>:dead` with its last error, unless
// the queue keeps delivering (`keepDelivering`): then reaching the limit raises an alert
// (`onDeliveryLimit`) and the entry is retried at the capped backoff until it succeeds, for
// work that must be done eventually whatever it takes (a logged phase-2 decision).
import type { Redis } from "ioredis";
import { exponentialBackoff } from "../engine/backoff";
import { errorMessage } from "../errors";
import { queueScripts } from "./scripts";

/** The set of every stream a queue was opened on in a namespace, for the figures collector and the console. */
export function registryKey(namespace: string): string {
  return `${namespace}:q:registry`;
}

/** Streams are named `<namespace>:q:<name>`; one Redis can serve several Cohort deployments (and test files). */
export function streamName(namespace: string, name: string): string {
  return `${namespace}:q:${name}`;
}
export const DEAD_MAXLEN = 100_000;

export interface QueueKeys {
  stream: string;
  /** Dead-letter stream. */
  dead: string;
  /** Hash: pending entry id → error of its last failed delivery. */
  errors: string;
}

export function queueKeys(stream: string): QueueKeys {
  return { stream, dead: `${stream}:dead`, errors: `${stream}:errors` };
}

export interface QueueEntry {
  id: string;
  fields: Record<string, string>;
  /** This delivery's number: 1 for the first. */
  deliveries: number;
}

/** Thrown by a handler when retrying cannot help: the entry goes to the dead letters now. */
export class DeadLetterNow extends Error {}

export interface StreamQueueOptions {
  redis: Redis;
  stream: string;
  group: string;
  consumer: string;
  maxDeliveries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  reclaimIdleMs: number;
  /** Delete entries once acknowledged: right when the stream has a single group, so its length is the backlog. */
  deleteOnAck: boolean;
  /** Entries read per XREADGROUP, and handled at once. */
  batch?: number;
  blockMs?: number;
  log?: (line: string) => void;
  /** Told of every entry moved to the dead letters by this queue (the domain marks what it stands for). */
  onDeadLetter?: (fields: Record<string, string>, error: string) => Promise<void>;
  /**
   * Never dead-letter an entry for its delivery count: past `maxDeliveries` it is retried
   * every `maxDelayMs` until it succeeds. Only a handler's DeadLetterNow moves it to the dead letters.
   */
  keepDelivering?: boolean;
  /** With `keepDelivering`: told once when an entry fails its `maxDeliveries`th delivery (an alert, not a stop). */
  onDeliveryLimit?: (entry: QueueEntry, error: string) => Promise<void>;
}

export type Handler = (entry: QueueEntry) => Promise<void>;

/** Backoff before delivery number `deliveries + 1`: base·2^(deliveries−1), capped. */
export function retryDelay(deliveries: number, baseMs: number, maxMs: number): number {
  return exponentialBackoff(deliveries - 1, baseMs, maxMs);
}

export function fieldsToRecord(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/** Lists a stream in its namespace's registry, so the figures and the console show it. */
export async function registerStream(redis: Redis, stream: string): Promise<void> {
  const at = stream.lastIndexOf(":q:");
  if (at <= 0) throw new Error(`queue stream names look like <namespace>:q:<name> (got ${stream})`);
  await redis.sadd(registryKey(stream.slice(0, at)), stream);
}

/** Creates the group (at the stream's start, so entries added before it are not skipped) and registers the stream. */
export async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  await registerStream(redis, stream);
  try {
    await redis.xgroup("CREATE", stream, group, "0", "MKSTREAM");
  } catch (err) {
    if (!errorMessage(err).includes("BUSYGROUP")) throw err;
  }
}

export async function enqueue(redis: Redis, stream: string, fields: Record<string, string>): Promise<string> {
  return (await enqueueAll(redis, stream, [fields]))[0]!;
}

/** Adds entries in one pipelined round trip; returns their ids in order, or throws if any was refused. */
export async function enqueueAll(redis: Redis, stream: string, entries: Record<string, string>[]): Promise<string[]> {
  const pipe = redis.pipeline();
  for (const fields of entries) {
    const flat: string[] = [];
    for (const [k, v] of Object.entries(fields)) {
      // Fields starting with "_" are the dead-letter stream's metadata.
      if (k.startsWith("_")) throw new Error(`queue field names may not start with "_" (got ${k})`);
      flat.push(k, v);
    }
    pipe.xadd(stream, "*", ...flat);
  }
  const results = (await pipe.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed || results.length !== entries.length) throw failed?.[0] ?? new Error(`the XADD pipeline to ${stream} was cut short`);
  return results.map(([, id]) => id as string);
}

/**
 * Moves a pending entry to `<stream>:dead` with its last error, atomically (scripts.ts).
 * `error` '' keeps the error its last failed delivery recorded. Null when it is not pending.
 */
export async function deadLetterEntry(
  redis: Redis,
  stream: string,
  group: string,
  id: string,
  opts: { error: string; by: string; deleteFromStream: boolean },
): Promise<{ deadId: string; deliveries: number } | null> {
  const keys = queueKeys(stream);
  const [ok, deadId, deliveries] = await queueScripts(redis).deadLetter(
    [keys.stream, keys.dead, keys.errors],
    [group, id, opts.error, opts.by, String(Date.now()), opts.deleteFromStream ? "1" : "0", String(DEAD_MAXLEN)],
  );
  return ok === 1 ? { deadId: String(deadId), deliveries: Number(deliveries) } : null;
}

type RawEntry = [string, string[] | null];

export class StreamQueue {
  readonly keys: QueueKeys;
  private reader: Redis | null = null;
  private running = false;
  private loops: Promise<void>[] = [];
  /** Entries this consumer is handling right now: never claimed again meanwhile. */
  private readonly inFlight = new Set<string>();
  private readonly work = new Set<Promise<void>>();
  private readonly wakers = new Set<() => void>();

  constructor(private readonly opts: StreamQueueOptions) {
    if (opts.reclaimIdleMs <= opts.maxDelayMs) {
      throw new Error(`reclaimIdleMs (${opts.reclaimIdleMs}) must exceed the longest backoff (${opts.maxDelayMs})`);
    }
    this.keys = queueKeys(opts.stream);
  }

  get consumer(): string {
    return this.opts.consumer;
  }

  async start(handler: Handler): Promise<void> {
    if (this.running) throw new Error("queue already started");
    await ensureGroup(this.opts.redis, this.opts.stream, this.opts.group);
    this.running = true;
    // Blocking reads need a connection of their own: they would stall every other command.
    this.reader = this.opts.redis.duplicate({ enableAutoPipelining: false, maxRetriesPerRequest: null });
    this.reader.on("error", () => undefined);
    this.loops = [this.readLoop(handler), this.retryLoop(handler)];
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const wake of [...this.wakers]) wake();
    this.reader?.disconnect();
    await Promise.allSettled(this.loops);
    await Promise.allSettled([...this.work]);
    this.reader = null;
  }

  /** Moves a pending entry to the dead letters; false when it is not pending (any more). */
  async deadLetter(id: string, error: string, by: string): Promise<boolean> {
    const { redis, stream, group } = this.opts;
    const moved = await deadLetterEntry(redis, stream, group, id, { error, by, deleteFromStream: this.opts.deleteOnAck });
    if (moved && this.opts.onDeadLetter) {
      const rows = (await redis.xrange(this.keys.dead, moved.deadId, moved.deadId)) as RawEntry[];
      const fields = fieldsToRecord(rows[0]?.[1] ?? []);
      await this.opts
        .onDeadLetter(fields, fields._error ?? error)
        .catch((err: unknown) => this.opts.log?.(`queue ${this.opts.stream}: after dead-lettering ${id}: ${errorMessage(err)}`));
    }
    return moved !== null;
  }

  private async readLoop(handler: Handler): Promise<void> {
    const batch = this.opts.batch ?? 64;
    while (this.running) {
      let reply: [string, RawEntry[]][] | null;
      try {
        reply = (await this.reader!.xreadgroup(
          "GROUP",
          this.opts.group,
          this.opts.consumer,
          "COUNT",
          batch,
          "BLOCK",
          this.opts.blockMs ?? 1000,
          "STREAMS",
          this.opts.stream,
          ">",
        )) as [string, RawEntry[]][] | null;
      } catch (err) {
        if (!this.running) return;
        const message = errorMessage(err);
        if (message.includes("NOGROUP") || message.includes("UNBLOCKED")) {
          // The stream or group was deleted under us (FLUSHALL, a Redis restart without persistence).
          await ensureGroup(this.opts.redis, this.opts.stream, this.opts.group).catch(() => undefined);
        } else {
          this.opts.log?.(`queue ${this.opts.stream}: read failed: ${message}`);
        }
        await this.pause(500);
        continue;
      }
      const entries = reply?.[0]?.[1] ?? [];
      await this.handleAll(
        handler,
        entries.map(([id, flat]) => ({ id, fields: fieldsToRecord(flat ?? []), deliveries: 1 })),
      );
    }
  }

  /** Own failed entries whose backoff is over, then (less often) entries of dead consumers. */
  private async retryLoop(handler: Handler): Promise<void> {
    const tickMs = Math.max(20, Math.min(this.opts.baseDelayMs, 250));
    const reclaimEveryMs = Math.min(5_000, Math.max(tickMs, this.opts.reclaimIdleMs / 4));
    let lastReclaim = 0;
    while (this.running) {
      try {
        await this.retryDue(handler);
        if (Date.now() - lastReclaim >= reclaimEveryMs) {
          lastReclaim = Date.now();
          await this.reclaim(handler);
        }
      } catch (err) {
        if (!this.running) return;
        const message = errorMessage(err);
        if (message.includes("NOGROUP"))
          await ensureGroup(this.opts.redis, this.opts.stream, this.opts.group).catch(() => undefined);
        else this.opts.log?.(`queue ${this.opts.stream}: retry pass failed: ${message}`);
      }
      await this.pause(tickMs);
    }
  }

  private async retryDue(handler: Handler): Promise<void> {
    const { redis, stream, group, consumer, baseDelayMs, maxDelayMs, maxDeliveries } = this.opts;
    const pending = (await redis.xpending(stream, group, "IDLE", baseDelayMs, "-", "+", 100, consumer)) as [
      string,
      string,
      number,
      number,
    ][];
    const due = pending.filter(([id, , idle, n]) => !this.inFlight.has(id) && idle >= retryDelay(n, baseDelayMs, maxDelayMs));
    // Stopped meanwhile: claiming now would count a delivery nobody makes.
    if (due.length === 0 || !this.running) return;
    const limited = this.opts.keepDelivering ? [] : due.filter(([, , , n]) => n >= maxDeliveries);
    for (const [id] of limited) await this.deadLetter(id, "", "queue");
    const retry = this.opts.keepDelivering ? due : due.filter(([, , , n]) => n < maxDeliveries);
    if (retry.length === 0) return;
    const pipe = redis.pipeline();
    // min-idle makes the claim a compare-and-set: a consumer that claimed it first reset the idle time.
    for (const [id, , , n] of retry) pipe.xclaim(stream, group, consumer, retryDelay(n, baseDelayMs, maxDelayMs), id);
    const results = (await pipe.exec()) ?? [];
    const claimed: QueueEntry[] = [];
    results.forEach(([err, value], i) => {
      const rows = (err ? [] : (value as RawEntry[])) ?? [];
      const row = rows[0];
      if (row && row[1]) claimed.push({ id: row[0], fields: fieldsToRecord(row[1]), deliveries: retry[i]![3] + 1 });
      else if (row && !row[1]) void this.dropDeleted(row[0]);
    });
    await this.handleAll(handler, claimed);
  }

  private async reclaim(handler: Handler): Promise<void> {
    const { redis, stream, group, consumer, reclaimIdleMs } = this.opts;
    let cursor = "0-0";
    for (let round = 0; round < 10 && this.running; round++) {
      const [next, rows] = (await redis.xautoclaim(stream, group, consumer, reclaimIdleMs, cursor, "COUNT", 100)) as [
        string,
        RawEntry[],
        string[]?,
      ];
      const entries = rows.filter(([id, flat]) => flat && !this.inFlight.has(id));
      if (entries.length > 0) {
        // XAUTOCLAIM does not say how often an entry was delivered: ask, to honour the limit.
        const counts = await this.deliveryCounts(entries.map(([id]) => id));
        const claimed = entries.map(([id, flat]) => ({ id, fields: fieldsToRecord(flat!), deliveries: counts.get(id) ?? 1 }));
        // The claim counted a delivery: one past the limit has had its last chance already.
        const overLimit = (c: QueueEntry) => !this.opts.keepDelivering && c.deliveries > this.opts.maxDeliveries;
        for (const e of claimed.filter(overLimit)) await this.deadLetter(e.id, "", "queue");
        await this.handleAll(
          handler,
          claimed.filter((c) => !overLimit(c)),
        );
      }
      if (next === "0-0") break;
      cursor = next;
    }
  }

  private async deliveryCounts(ids: string[]): Promise<Map<string, number>> {
    const pipe = this.opts.redis.pipeline();
    for (const id of ids) pipe.xpending(this.opts.stream, this.opts.group, id, id, 1);
    const out = new Map<string, number>();
    for (const [err, value] of (await pipe.exec()) ?? []) {
      const row = err ? undefined : (value as [string, string, number, number][])[0];
      if (row) out.set(row[0], row[3]);
    }
    return out;
  }

  private async handleAll(handler: Handler, entries: QueueEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const e of entries) this.inFlight.add(e.id);
    const done: string[] = [];
    const job = Promise.all(
      entries.map(async (entry) => {
        try {
          await handler(entry);
          done.push(entry.id);
        } catch (err) {
          await this.failed(entry, err).catch((e: unknown) =>
            this.opts.log?.(`queue ${this.opts.stream}: recording a failure of ${entry.id}: ${errorMessage(e)}`),
          );
        }
      }),
    ).then(async () => {
      if (done.length > 0) {
        const { redis, stream, group } = this.opts;
        const pipe = redis.pipeline().xack(stream, group, ...done);
        if (this.opts.deleteOnAck) pipe.xdel(stream, ...done);
        pipe.hdel(this.keys.errors, ...done);
        await pipe.exec();
      }
    });
    this.work.add(job);
    try {
      await job;
    } catch (err) {
      this.opts.log?.(`queue ${this.opts.stream}: acknowledging: ${errorMessage(err)}`);
    } finally {
      this.work.delete(job);
      for (const e of entries) this.inFlight.delete(e.id);
    }
  }

  private async failed(entry: QueueEntry, err: unknown): Promise<void> {
    const message = errorMessage(err).slice(0, 2000);
    if (err instanceof DeadLetterNow || (!this.opts.keepDelivering && entry.deliveries >= this.opts.maxDeliveries)) {
      await this.deadLetter(entry.id, message, "queue");
      return;
    }
    await this.opts.redis.hset(this.keys.errors, entry.id, message);
    if (this.opts.keepDelivering && entry.deliveries === this.opts.maxDeliveries && this.opts.onDeliveryLimit) {
      await this.opts
        .onDeliveryLimit(entry, message)
        .catch((e: unknown) => this.opts.log?.(`queue ${this.opts.stream}: alerting on ${entry.id}: ${errorMessage(e)}`));
    }
  }

  /** A pending entry whose stream entry was deleted (trimmed): nothing left to deliver. */
  private async dropDeleted(id: string): Promise<void> {
    await this.opts.redis
      .pipeline()
      .xack(this.opts.stream, this.opts.group, id)
      .hdel(this.keys.errors, id)
      .exec()
      .catch(() => undefined);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      t.unref();
      this.wakers.add(wake);
    });
  }
}
