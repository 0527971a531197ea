// The lock service (DESIGN.md §3): leases in Redis set by Lua scripts, fencing tokens,
// FIFO waiters with heartbeats, shared and exclusive modes, an index of held locks, and
// the reads the deadlock detector and the console need.
//
// Every decision is made inside one script on one lock's keys, so the uncontended path is
// a single round trip: acquire = one EVALSHA, release = one EVALSHA. Calls made in the
// same event-loop turn share that EVALSHA (scriptBatch.ts), which is what makes a lock
// cost about as much as a bare SET NX PX. A waiter repeats its acquire call on each
// wake-up and heartbeat (wakeups.ts); the same call keeps it queued.
import { randomBytes } from "node:crypto";
import { CohortError, isCohortError } from "../errors";
import { processHost } from "./deadHolders";
import { systemClock, type Clock } from "../engine/types";
import {
  assertLockKey,
  assertOwner,
  heldMember,
  indexKeys,
  lockKeys,
  parseHeldMember,
  parseWaitingMember,
  waitingMember,
  wakeChannel,
  type IndexKeys,
  type LockKeys,
} from "./keys";
import { LockIndex } from "./lockIndex";
import { ScriptBatch } from "./scriptBatch";
import { lockScripts, type LockRedis, type LockScripts } from "./scripts";
import type {
  AcquireRequest,
  ForcedRelease,
  ForceReleaseResult,
  HeldLock,
  LockGrant,
  LockHolder,
  LockMode,
  LockState,
  LockWaiter,
  WaitForEdge,
} from "./types";
import { buildWaitForEdges } from "./waitForGraph";
import { Wakeups } from "./wakeups";

export interface LockServiceConfig {
  redis: LockRedis;
  /** Written into holder and waiter records so the console shows where a lock lives. */
  host?: string;
  clock?: Clock;
  defaultTtlMs?: number;
  defaultWaitMs?: number;
  /** How often a waiter re-announces itself; it is dropped after three missed beats. */
  waiterHeartbeatMs?: number;
  /** Prefix of every key, so that tests and deployments can share one Redis. */
  namespace?: string;
  /** How long an operator release stays on record on an idle lock. */
  forcedRecordMs?: number;
  /** Grants and waits younger than this are not written to the indexes (see lockIndex.ts). */
  indexDelayMs?: number;
  /**
   * Durable source of fencing epochs (fencingEpoch.ts: a PostgreSQL sequence), asked only
   * when Redis has no epoch (it lost its data) or the epoch's tokens ran out. Without one
   * the epoch comes from the Redis clock: tokens then survive data loss or a clock step,
   * not both together.
   */
  epochSource?: () => Promise<number>;
}

const MAX_TTL_MS = 24 * 3_600_000;
const AUDIT_MAXLEN = 10_000;

const toScriptMode = (m: LockMode) => (m === "exclusive" ? "x" : "s");
const fromScriptMode = (m: string): LockMode => (m === "x" ? "exclusive" : "shared");

/** cjson encodes an empty Lua table as {}, not []. */
const asArray = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

interface Resolved {
  key: string;
  owner: string;
  mode: LockMode;
  ttlMs: number;
  ownerStartedAt: number;
  keys: LockKeys;
}

/** One lock's part of an acquire call. */
interface AcquireItem {
  r: Resolved;
  /** null = try only, never queued. */
  waiterId: string | null;
}

type AcquireReply = (number | string)[];

/** Locks per script call: bounds how long one call keeps Redis busy. */
const MAX_BATCH = 256;

/** Whole-call replies of the token-issuing scripts (scripts/acquire-3.lua). */
const NO_EPOCH = -2;
const EPOCH_USED_UP = -3;

type AttemptResult =
  | { kind: "granted"; grant: LockGrant }
  | { kind: "busy"; retryAfterMs: number; blockedBy: string; deadline: number; blockerToken: string }
  | { kind: "victim" };

export class LockService {
  readonly namespace: string;
  readonly host: string;
  readonly waiterHeartbeatMs: number;
  /** Identifies this process's wake-up channel and waiter ids. */
  readonly serviceId = randomBytes(9).toString("base64url");
  readonly indexKeys: IndexKeys;
  private readonly redis: LockRedis;
  private readonly scripts: LockScripts;
  private readonly index: LockIndex;
  private readonly wakeups: Wakeups;
  private readonly clock: Clock;
  private readonly defaultTtlMs: number;
  private readonly defaultWaitMs: number;
  private readonly waiterTtlMs: number;
  private readonly forcedRecordMs: number;
  /** Grants made by this process, per owner: releaseAllOf needs no Redis read. */
  private readonly grants = new Map<string, Map<string, LockGrant>>();
  private readonly acquireBatch: ScriptBatch<AcquireItem, AcquireReply>;
  private readonly releaseBatch: ScriptBatch<LockGrant, number>;
  private waiterSeq = 0;
  private closed = false;
  private readonly epochSource: (() => Promise<number>) | null;
  /** The epoch being installed, shared by every call that found none. */
  private installing: Promise<void> | null = null;

  constructor(config: LockServiceConfig) {
    this.redis = config.redis;
    this.namespace = config.namespace ?? "cohort";
    // The host is the last field of the records the scripts keep, so it may hold "|"; not line breaks.
    // eslint-disable-next-line no-control-regex -- control characters are what it removes
    this.host = (config.host ?? processHost()).replace(/[\u0000-\u001f]/g, "");
    this.clock = config.clock ?? systemClock;
    this.defaultTtlMs = config.defaultTtlMs ?? 30_000;
    this.defaultWaitMs = config.defaultWaitMs ?? 10_000;
    this.waiterHeartbeatMs = config.waiterHeartbeatMs ?? 1_000;
    this.waiterTtlMs = 3 * this.waiterHeartbeatMs;
    this.forcedRecordMs = config.forcedRecordMs ?? 24 * 3_600_000;
    this.epochSource = config.epochSource ?? null;
    this.scripts = lockScripts(this.redis);
    this.indexKeys = indexKeys(this.namespace);
    this.index = new LockIndex(this.redis, this.indexKeys, config.indexDelayMs ?? 50);
    this.wakeups = new Wakeups(this.redis, wakeChannel(this.namespace, this.serviceId));
    const maxBatch = this.redis.isCluster ? 1 : MAX_BATCH;
    this.acquireBatch = new ScriptBatch((items) => this.runAcquire(items), maxBatch);
    this.releaseBatch = new ScriptBatch((grants) => this.runRelease(grants), maxBatch);
    // A Redis that comes back (restart, failover) may have kept its fence hash but lost its
    // last writes (AOF fsync once a second, a replica behind), and with them counter values
    // already handed out. A new epoch on every (re)connection puts every later token above them.
    if (this.epochSource) this.redis.on("ready", this.onReady);
  }

  private readonly onReady = () => {
    if (!this.closed) void this.installEpoch().catch(() => undefined); // else the next grant installs one
  };

  /**
   * Takes the lock, queueing for up to `waitMs` behind conflicting holders and waiters.
   * Fails with LOCK_TIMEOUT when the wait runs out and DEADLOCK_VICTIM when the deadlock
   * detector picks this transaction; in both cases it has left the queue.
   */
  async acquire(req: AcquireRequest): Promise<LockGrant> {
    const r = this.resolve(req);
    const waitMs = req.waitMs ?? this.defaultWaitMs;
    if (!Number.isFinite(waitMs) || waitMs < 0) throw new CohortError("BAD_REQUEST", "waitMs must be a non-negative number");
    const started = this.clock.now();
    // First a plain try: the uncontended path is one round trip with the fewest arguments.
    // Only a caller that has to wait sets up a queue entry (a second call, while it waits anyway).
    const first = await this.attempt(r, null);
    if (first.kind === "granted") return first.grant;
    if (waitMs === 0) throw this.timeout(r, 0, first.kind === "busy" ? first.blockedBy : null);
    const waitUntil = started + waitMs;
    const waiterId = `${this.serviceId}.${(this.waiterSeq++).toString(36)}`;
    const member = waitingMember(r.key, waiterId);
    await this.wakeups.ready();
    this.wakeups.register(waiterId);
    let queued = false;
    try {
      for (;;) {
        if (this.closed) {
          if (queued) await this.leave(r.keys, waiterId, member).catch(() => undefined);
          throw new CohortError("ENGINE_STOPPED", `the lock service is closed; ${r.owner} stopped waiting for lock "${r.key}"`);
        }
        if (req.signal?.aborted) {
          if (queued) await this.leave(r.keys, waiterId, member).catch(() => undefined);
          throw abortError(req.signal, r);
        }
        const result = await this.attempt(r, waiterId);
        if (result.kind === "granted") {
          if (queued) this.index.removeWaiting(member);
          return result.grant;
        }
        if (result.kind === "victim") {
          this.index.removeWaiting(member);
          throw new CohortError(
            "DEADLOCK_VICTIM",
            `${r.owner} was chosen as the victim of a deadlock while waiting for lock "${r.key}"`,
            {
              details: { key: r.key, owner: r.owner },
            },
          );
        }
        queued = true;
        this.index.addWaiting(member, result.deadline);
        // A grant that has held us up for a heartbeat gets listed even if its holder
        // crashed before writing it to the index (lockIndex.ts).
        if (result.blockerToken && this.clock.now() - started >= this.waiterHeartbeatMs) {
          this.index.addHeld(heldMember(r.key, result.blockedBy, result.blockerToken));
        }
        const remaining = waitUntil - this.clock.now();
        if (remaining <= 0) {
          // If Redis cannot be reached to leave, the heartbeat deadline removes the entry.
          await this.leave(r.keys, waiterId, member).catch(() => undefined);
          throw this.timeout(r, this.clock.now() - started, result.blockedBy);
        }
        // Sleep until woken, the next heartbeat, or the moment the blocker's lease or
        // heartbeat lapses (a crashed holder never publishes a release).
        const retryAfter = result.retryAfterMs >= 0 ? result.retryAfterMs + 1 : Infinity;
        await this.wakeups.wait(waiterId, Math.min(remaining, this.waiterHeartbeatMs, retryAfter), req.signal);
      }
    } catch (err) {
      // Left already on timeout, victim, abort and close; after a Redis error, try (the
      // heartbeat deadline removes the entry anyway if this fails too).
      if (queued && !isCohortError(err) && !req.signal?.aborted) {
        await this.leave(r.keys, waiterId, member).catch(() => undefined);
      }
      throw err;
    } finally {
      this.wakeups.unregister(waiterId);
    }
  }

  /** Takes the lock only if that is possible right now (never queues); null when it is taken. */
  async tryAcquire(req: Omit<AcquireRequest, "waitMs" | "signal">): Promise<LockGrant | null> {
    const result = await this.attempt(this.resolve(req), null);
    return result.kind === "granted" ? result.grant : null;
  }

  /** Extends a lease to now + ttl. LOCK_LOST when it expired or was released meanwhile. */
  async renew(grant: LockGrant, ttlMs: number = this.defaultTtlMs): Promise<LockGrant> {
    assertTtl(ttlMs);
    const reply = (await this.scripts.renew(
      [lockKeys(this.namespace, grant.key).lock],
      [grant.owner, grant.token, Math.ceil(ttlMs)],
    )) as number[];
    if (reply[0] !== 1) {
      this.forget(grant);
      throw new CohortError("LOCK_LOST", `lock "${grant.key}" is no longer held by ${grant.owner} under token ${grant.token}`, {
        details: { key: grant.key, owner: grant.owner, token: grant.token },
      });
    }
    const renewed = { ...grant, expiresAt: reply[1]! };
    this.remember(renewed);
    return renewed;
  }

  /** Gives the lease back. False when it was no longer held under this grant's token. */
  async release(grant: LockGrant): Promise<boolean> {
    const released = (await this.releaseBatch.submit(grant)) === 1;
    this.forget(grant);
    this.index.removeHeld(heldMember(grant.key, grant.owner, grant.token));
    return released;
  }

  /**
   * Releases every lock `owner` holds through this process. With `searchIndex` it also
   * finds grants made by other processes (e.g. after taking over a dead instance's
   * transactions), at the cost of reading the whole index.
   */
  async releaseAllOf(owner: string, opts: { searchIndex?: boolean } = {}): Promise<number> {
    const grants = new Map<string, LockGrant>();
    for (const g of this.grants.get(owner)?.values() ?? []) grants.set(`${g.key}\u0000${g.token}`, g);
    if (opts.searchIndex) {
      await this.index.flush();
      for (const m of await this.redis.zrange(this.indexKeys.held, 0, -1)) {
        const p = parseHeldMember(m);
        if (p && p.owner === owner && !grants.has(`${p.key}\u0000${p.token}`)) {
          grants.set(`${p.key}\u0000${p.token}`, {
            key: p.key,
            owner,
            token: p.token,
            mode: "exclusive",
            acquiredAt: 0,
            expiresAt: 0,
          });
        }
      }
    }
    const results = await Promise.all([...grants.values()].map((g) => this.release(g)));
    return results.filter(Boolean).length;
  }

  /**
   * Operator release of a stuck lock: compare-and-delete against the token the operator
   * saw (STALE_TOKEN when the lock changed hands since), which advances the fence and
   * records who and why on the lock and in the audit stream. If the holder is an in-doubt
   * transaction this does not free its rows: its prepared branch still holds their row
   * locks in PostgreSQL until the transaction is resolved.
   */
  async forceRelease(req: { key: string; expectedToken: string; actor: string; reason: string }): Promise<ForceReleaseResult> {
    assertLockKey(req.key);
    if (!/^\d{1,19}$/.test(req.expectedToken))
      throw new CohortError("BAD_REQUEST", "expectedToken must be a decimal fencing token");
    const actor = typeof req.actor === "string" ? req.actor.trim() : "";
    const reason = typeof req.reason === "string" ? req.reason.trim() : "";
    if (!actor || !reason || actor.length > 200 || reason.length > 2_000) {
      throw new CohortError("BAD_REQUEST", "an operator release needs an actor (up to 200 characters) and a reason (up to 2000)");
    }
    const k = lockKeys(this.namespace, req.key);
    const reply = (await this.withEpoch(() =>
      this.scripts.forceRelease(
        [this.indexKeys.fence, k.lock, k.queue, k.waiters],
        [req.expectedToken, actor, reason, this.forcedRecordMs],
      ),
    )) as [number, string, string?, string?, number?];
    const before = asArray<RawHolder>(JSON.parse(reply[1])).map(toHolder);
    if (reply[0] !== 1) {
      throw new CohortError(
        "STALE_TOKEN",
        `lock "${req.key}" is not held under token ${req.expectedToken} any more; reload and try again`,
        {
          details: { key: req.key, expectedToken: req.expectedToken, holders: before },
        },
      );
    }
    const after = asArray<RawHolder>(JSON.parse(reply[2]!)).map(toHolder);
    const released = before.find((h) => h.token === req.expectedToken)!;
    this.index.removeHeld(heldMember(req.key, released.owner, released.token));
    this.forget({ key: req.key, owner: released.owner, token: released.token });
    const result: ForceReleaseResult = { key: req.key, before, after, fence: String(reply[3]), at: Number(reply[4]) };
    await this.redis
      .xadd(
        this.indexKeys.audit,
        "MAXLEN",
        "~",
        String(AUDIT_MAXLEN),
        "*",
        "e",
        JSON.stringify({ v: 1, type: "lock.forceReleased", actor, reason, ...result }),
      )
      .catch(() => undefined); // the lock itself carries the record; the stream is history
    return result;
  }

  /** One lock as it is now: live holders, waiters in queue order, last operator release. */
  async inspect(key: string): Promise<LockState> {
    assertLockKey(key);
    const k = lockKeys(this.namespace, key);
    const raw = JSON.parse((await this.scripts.inspect([k.lock, k.queue, k.waiters], [])) as string) as RawState;
    return {
      key,
      now: raw.now,
      fence: raw.fence,
      holders: asArray<RawHolder>(raw.holders).map(toHolder),
      waiters: asArray<RawWaiter>(raw.waiters).map((w): LockWaiter => ({
        waiterId: w.id,
        owner: w.owner,
        mode: fromScriptMode(w.mode),
        ownerStartedAt: w.ownerStartedAt,
        enqueuedAt: w.enqueuedAt,
        heartbeatDeadline: w.deadline,
        victim: w.victim,
        host: w.host,
      })),
      lastForcedRelease: raw.forced ? (JSON.parse(raw.forced) as ForcedRelease) : null,
    };
  }

  async waitersOf(key: string): Promise<LockWaiter[]> {
    return (await this.inspect(key)).waiters;
  }

  /**
   * Held locks in key order from the index, checked against the locks themselves (entries
   * whose grant is gone are dropped from the index on the way). `cursor` is the
   * `nextCursor` of the previous page.
   */
  async listHeld(
    opts: { cursor?: string | null; limit?: number; prefix?: string } = {},
  ): Promise<{ locks: HeldLock[]; nextCursor: string | null }> {
    const limit = Math.max(1, Math.min(1_000, Math.floor(opts.limit ?? 100)));
    const prefix = opts.prefix ?? "";
    await this.index.flush();
    let start: string = opts.cursor ? `(${decodeCursor(opts.cursor)}` : prefix ? `[${prefix}` : "-";
    // "\xff" never occurs in UTF-8, so it closes the range of every key with the prefix.
    const end: string | Buffer = prefix ? Buffer.concat([Buffer.from(`[${prefix}`), Buffer.from([0xff])]) : "+";
    const locks: HeldLock[] = [];
    for (;;) {
      const want = limit - locks.length;
      const members = await this.redis.zrangebylex(this.indexKeys.held, start, end as string, "LIMIT", 0, want);
      const parsed = members.map((m) => ({ member: m, p: parseHeldMember(m) }));
      const keys = [...new Set(parsed.flatMap((x) => (x.p ? [x.p.key] : [])))];
      const states = new Map((await Promise.all(keys.map((k) => this.inspect(k)))).map((s) => [s.key, s]));
      const stale: string[] = [];
      for (const { member, p } of parsed) {
        const state = p ? states.get(p.key) : undefined;
        const holder = state?.holders.find((h) => h.owner === p!.owner && h.token === p!.token);
        if (holder && state) locks.push({ key: state.key, ...holder, waiting: state.waiters.length });
        else stale.push(member);
      }
      if (stale.length) await this.redis.zrem(this.indexKeys.held, ...stale);
      if (members.length < want) return { locks, nextCursor: null };
      start = `(${members[members.length - 1]!}`;
      if (locks.length >= limit) return { locks, nextCursor: encodeCursor(members[members.length - 1]!) };
    }
  }

  /** Who waits for whom, over every lock with a live waiter (read from the waiting index). */
  async waitForGraph(): Promise<WaitForEdge[]> {
    return buildWaitForEdges(await this.waitedLocks());
  }

  /** Snapshots of the locks that have live waiters. */
  async waitedLocks(keys?: string[]): Promise<LockState[]> {
    if (!keys) {
      await this.index.flush();
      const [seconds] = await this.redis.time();
      await this.redis.zremrangebyscore(this.indexKeys.waiting, "-inf", `(${Number(seconds) * 1000}`);
      const members = await this.redis.zrange(this.indexKeys.waiting, 0, -1);
      keys = [...new Set(members.flatMap((m) => parseWaitingMember(m)?.key ?? []))];
    }
    const states = await Promise.all(keys.map((k) => this.inspect(k)));
    return states.filter((s) => s.waiters.length > 0);
  }

  /**
   * Flags the wait behind `edge` as a deadlock victim and wakes it; its acquire then fails
   * with DEADLOCK_VICTIM. False when that wait is already over.
   */
  async markVictim(edge: Pick<WaitForEdge, "key" | "waiterId" | "waiter">): Promise<boolean> {
    const k = lockKeys(this.namespace, edge.key);
    return (await this.scripts.markVictim([k.queue, k.waiters], [edge.waiterId, edge.waiter])) === 1;
  }

  /** Drops index entries whose grant or wait is gone. Reads the whole index: run it rarely. */
  async pruneIndex(): Promise<{ held: number; waiting: number }> {
    let held = 0;
    let cursor: string | null = null;
    const before = await this.redis.zcard(this.indexKeys.held);
    do {
      const page: { locks: HeldLock[]; nextCursor: string | null } = await this.listHeld({ cursor, limit: 500 });
      held += page.locks.length;
      cursor = page.nextCursor;
    } while (cursor);
    const [seconds] = await this.redis.time();
    const waiting = await this.redis.zremrangebyscore(this.indexKeys.waiting, "-inf", `(${Number(seconds) * 1000}`);
    return { held: Math.max(0, before - held), waiting };
  }

  /** Grants this process holds for `owner` (as far as it knows). */
  heldBy(owner: string): LockGrant[] {
    return [...(this.grants.get(owner)?.values() ?? [])];
  }

  /** Writes pending index changes and drops the wake-up connection. The Redis client stays open. */
  async close(): Promise<void> {
    this.closed = true;
    this.redis.off("ready", this.onReady);
    this.wakeups.close();
    await this.index.close().catch(() => undefined);
  }

  /** A leadership lease on `key` for `id`; ttlMs 0 gives it up. */
  async lease(key: string, id: string, ttlMs: number): Promise<boolean> {
    return (await this.scripts.lease([key], [id, Math.max(0, Math.ceil(ttlMs))])) === 1;
  }

  private runAcquire(items: AcquireItem[]): Promise<AcquireReply[]> {
    const keys: string[] = [this.indexKeys.fence];
    const args: (string | number)[] = [this.host, this.waiterTtlMs, this.wakeups.channel];
    for (const { r, waiterId } of items) {
      keys.push(r.keys.lock, r.keys.queue, r.keys.waiters);
      args.push(r.owner, toScriptMode(r.mode), r.ttlMs, waiterId ?? "", waiterId === null ? "" : r.ownerStartedAt);
    }
    return this.withEpoch(() => this.scripts.acquire(keys, args)) as Promise<AcquireReply[]>;
  }

  /**
   * Runs a token-issuing script; when it finds no fencing epoch (Redis lost its data) or the
   * epoch used up, installs a new one from the durable source and runs it again.
   */
  private async withEpoch(call: () => Promise<unknown>): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      // No token from the old epoch while a new one is being installed (after a reconnection).
      if (this.installing) await this.installing.catch(() => undefined);
      const reply = await call();
      if (reply !== NO_EPOCH && reply !== EPOCH_USED_UP) return reply;
      if (attempt >= 3) throw new Error(`the lock service could not install a fencing epoch (script answered ${String(reply)})`);
      await this.installEpoch();
    }
  }

  private installEpoch(): Promise<void> {
    this.installing ??= (async () => {
      try {
        const candidate = this.epochSource ? String(await this.epochSource()) : "";
        await this.scripts.epoch([this.indexKeys.fence], [candidate]);
      } finally {
        this.installing = null;
      }
    })();
    return this.installing;
  }

  private runRelease(grants: LockGrant[]): Promise<number[]> {
    const keys: string[] = [];
    const args: string[] = [];
    for (const g of grants) {
      const k = lockKeys(this.namespace, g.key);
      keys.push(k.lock, k.queue, k.waiters);
      args.push(g.owner, g.token);
    }
    return this.scripts.release(keys, args) as Promise<number[]>;
  }

  /** One acquire call (batched with others of this turn); `waiterId` null = try only. */
  private async attempt(r: Resolved, waiterId: string | null): Promise<AttemptResult> {
    const reply = await this.acquireBatch.submit({ r, waiterId });
    const status = reply[0];
    if (status === 1) {
      const grant: LockGrant = {
        key: r.key,
        owner: r.owner,
        mode: fromScriptMode(reply[4] as string),
        token: reply[1] as string,
        acquiredAt: reply[3] as number,
        expiresAt: reply[2] as number,
      };
      const previous = this.grants.get(r.owner)?.get(r.key);
      if (previous?.token !== grant.token) {
        // An upgrade from shared replaces the earlier grant (and its token).
        if (previous) this.index.removeHeld(heldMember(previous.key, previous.owner, previous.token));
        this.index.addHeld(heldMember(grant.key, grant.owner, grant.token));
      }
      this.remember(grant);
      return { kind: "granted", grant };
    }
    if (status === -1) return { kind: "victim" };
    return {
      kind: "busy",
      retryAfterMs: reply[1] as number,
      blockedBy: String(reply[2]),
      deadline: reply[3] as number,
      blockerToken: String(reply[4]),
    };
  }

  private async leave(keys: LockKeys, waiterId: string, member: string): Promise<void> {
    this.index.removeWaiting(member);
    await this.scripts.leave([keys.lock, keys.queue, keys.waiters], [waiterId]);
  }

  private resolve(req: Omit<AcquireRequest, "waitMs" | "signal">): Resolved {
    assertLockKey(req.key);
    assertOwner(req.owner);
    const mode = req.mode ?? "exclusive";
    if (mode !== "exclusive" && mode !== "shared") throw new CohortError("BAD_REQUEST", `unknown lock mode "${String(mode)}"`);
    const ttlMs = req.ttlMs ?? this.defaultTtlMs;
    assertTtl(ttlMs);
    const ownerStartedAt = Math.floor(req.ownerStartedAt ?? this.clock.now());
    if (!Number.isSafeInteger(ownerStartedAt)) throw new CohortError("BAD_REQUEST", "ownerStartedAt must be a time in ms");
    return {
      key: req.key,
      owner: req.owner,
      mode,
      ttlMs: Math.ceil(ttlMs),
      ownerStartedAt,
      keys: lockKeys(this.namespace, req.key),
    };
  }

  private timeout(r: Resolved, waitedMs: number, blockedBy: string | null): CohortError {
    return new CohortError(
      "LOCK_TIMEOUT",
      `${r.owner} could not take lock "${r.key}" (${r.mode}) within ${waitedMs} ms${blockedBy ? `: waiting for ${blockedBy}` : ""}`,
      { details: { key: r.key, owner: r.owner, mode: r.mode, waitedMs, blockedBy } },
    );
  }

  private remember(grant: LockGrant): void {
    let mine = this.grants.get(grant.owner);
    if (!mine) this.grants.set(grant.owner, (mine = new Map()));
    mine.set(grant.key, grant);
  }

  private forget(grant: Pick<LockGrant, "key" | "owner" | "token">): void {
    const mine = this.grants.get(grant.owner);
    if (mine?.get(grant.key)?.token !== grant.token) return;
    mine.delete(grant.key);
    if (mine.size === 0) this.grants.delete(grant.owner);
  }
}

interface RawHolder {
  owner: string;
  mode: string;
  token: string;
  acquiredAt: number;
  expiresAt: number;
  host: string;
}

interface RawWaiter {
  id: string;
  owner: string;
  mode: string;
  ownerStartedAt: number;
  enqueuedAt: number;
  deadline: number;
  victim: boolean;
  host: string;
}

interface RawState {
  now: number;
  fence: string;
  holders: unknown;
  waiters: unknown;
  forced: string | false;
}

const toHolder = (h: RawHolder): LockHolder => ({
  owner: h.owner,
  mode: fromScriptMode(h.mode),
  token: h.token,
  acquiredAt: h.acquiredAt,
  expiresAt: h.expiresAt,
  host: h.host,
});

function assertTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TTL_MS)
    throw new CohortError("BAD_REQUEST", "ttlMs must be between 1 ms and 24 h");
}

function abortError(signal: AbortSignal, r: Resolved): Error {
  if (signal.reason instanceof Error) return signal.reason;
  return new CohortError("TX_ABORTED", `${r.owner} stopped waiting for lock "${r.key}": ${String(signal.reason ?? "aborted")}`, {
    details: { key: r.key, owner: r.owner },
  });
}

const encodeCursor = (member: string) => Buffer.from(member).toString("base64url");

function decodeCursor(cursor: string): string {
  const member = Buffer.from(cursor, "base64url").toString();
  if (!parseHeldMember(member)) throw new CohortError("BAD_REQUEST", "invalid lock list cursor");
  return member;
}
