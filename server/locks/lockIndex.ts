// The cross-lock indexes: which grants are held (for listing without KEYS or SCAN) and
// which waits are queued (for the wait-for graph). They are single keys, so in Redis
// Cluster they live in another slot than the locks and the lock scripts cannot write
// them. Instead changes are queued here and written in one ZADD and one ZREM per batch.
//
// An entry is written once it is `delayMs` old, so a grant released (or a wait ended)
// sooner never reaches Redis: most locks live for a few milliseconds, and the index is
// for locks an operator might look at. The cost of the delay is that a process that
// crashes within `delayMs` of a grant leaves that grant out of the index; a waiter that
// has waited a full heartbeat writes the grant blocking it (LockService.acquire), so a
// lock that holds anyone up is always listed, and every lease ends with its ttl anyway.
//
// The index is a hint checked against the locks, never the truth: members name one grant
// (key, owner, token) or one wait (key, waiter id), so a late removal can never delete a
// newer grant's entry, and readers drop entries whose grant or wait is gone.
import type { IndexKeys } from "./keys";
import type { LockRedis } from "./scripts";

const RETRY_MS = 200;
/** Bound on what is kept for retry while Redis is unreachable. */
const MAX_PENDING = 100_000;

interface PendingWait {
  deadline: number;
  since: number;
}

export class LockIndex {
  /** member → when it was queued */
  private heldAdds = new Map<string, number>();
  private heldRemoves = new Set<string>();
  private waitingAdds = new Map<string, PendingWait>();
  private waitingRemoves = new Set<string>();
  /** Waits written to Redis: only those need a ZREM when they end. */
  private readonly waitingWritten = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly redis: LockRedis,
    readonly keys: IndexKeys,
    private readonly delayMs: number,
  ) {}

  addHeld(member: string): void {
    this.heldRemoves.delete(member);
    if (!this.heldAdds.has(member)) this.heldAdds.set(member, Date.now());
    this.schedule();
  }

  removeHeld(member: string): void {
    // Released before it was written: the index never needs to hear of it.
    if (this.heldAdds.delete(member)) return;
    this.heldRemoves.add(member);
    this.schedule();
  }

  /** Adds or refreshes a wait; `deadline` (Redis time) lets readers drop waits of crashed processes. */
  addWaiting(member: string, deadline: number): void {
    this.waitingRemoves.delete(member);
    this.waitingAdds.set(member, { deadline, since: this.waitingAdds.get(member)?.since ?? Date.now() });
    this.schedule();
  }

  removeWaiting(member: string): void {
    this.waitingAdds.delete(member);
    if (this.waitingWritten.has(member)) {
      this.waitingRemoves.add(member);
      this.schedule();
    }
  }

  /** Writes everything queued, however young (listing reads its own writes). */
  flush(): Promise<void> {
    return this.write(Infinity);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
    this.closed = true;
  }

  /** Writes the entries queued at least `minAgeMs` ago, and every removal. */
  private async write(minAgeMs: number): Promise<void> {
    while (this.flushing) await this.flushing;
    const cutoff = minAgeMs === Infinity ? Infinity : Date.now() - minAgeMs;
    const heldAdds = takeOlder(this.heldAdds, (at) => at <= cutoff);
    const waitingAdds = takeOlder(this.waitingAdds, (w) => w.since <= cutoff);
    const heldRemoves = [...this.heldRemoves];
    const waitingRemoves = [...this.waitingRemoves];
    this.heldRemoves = new Set();
    this.waitingRemoves = new Set();
    if (!heldAdds.length && !heldRemoves.length && !waitingAdds.length && !waitingRemoves.length) return;
    for (const [m] of waitingAdds) this.waitingWritten.add(m);
    for (const m of waitingRemoves) this.waitingWritten.delete(m);
    const { held, waiting } = this.keys;
    const writes: Promise<unknown>[] = [];
    if (heldAdds.length) writes.push(this.redis.zadd(held, ...heldAdds.flatMap(([m]) => [0, m])));
    if (heldRemoves.length) writes.push(this.redis.zrem(held, ...heldRemoves));
    if (waitingAdds.length) writes.push(this.redis.zadd(waiting, ...waitingAdds.flatMap(([m, w]) => [w.deadline, m])));
    if (waitingRemoves.length) writes.push(this.redis.zrem(waiting, ...waitingRemoves));
    const done = Promise.allSettled(writes).then((results) => {
      if (results.every((r) => r.status === "fulfilled")) return;
      // Redis unreachable: keep the changes for the next attempt unless something newer
      // superseded them meanwhile.
      if (this.closed || this.pendingCount() > MAX_PENDING) return;
      for (const [m, at] of heldAdds) if (!this.heldRemoves.has(m) && !this.heldAdds.has(m)) this.heldAdds.set(m, at);
      for (const m of heldRemoves) if (!this.heldAdds.has(m)) this.heldRemoves.add(m);
      for (const [m, w] of waitingAdds) if (!this.waitingRemoves.has(m) && !this.waitingAdds.has(m)) this.waitingAdds.set(m, w);
      for (const m of waitingRemoves) if (!this.waitingAdds.has(m)) this.waitingRemoves.add(m);
      setTimeout(() => this.schedule(), RETRY_MS).unref();
    });
    this.flushing = done;
    try {
      await done;
    } finally {
      this.flushing = null;
    }
  }

  private pendingCount(): number {
    return this.heldAdds.size + this.heldRemoves.size + this.waitingAdds.size + this.waitingRemoves.size;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.write(this.delayMs).finally(() => {
        if (this.pendingCount() > 0) this.schedule();
      });
    }, this.delayMs);
    this.timer.unref();
  }
}

/** Removes and returns the entries that pass `old`; Map order is insertion order, so stop at the first young one. */
function takeOlder<V>(map: Map<string, V>, old: (v: V) => boolean): [string, V][] {
  const out: [string, V][] = [];
  for (const [k, v] of map) {
    if (!old(v)) break;
    out.push([k, v]);
    map.delete(k);
  }
  return out;
}
