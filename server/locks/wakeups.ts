// How a waiting acquire learns that it may go: each LockService subscribes once to its
// own channel, and the lock scripts PUBLISH the waiter id there when the waiter could
// take the lock (release, a waiter ahead leaving or pruned, a deadlock verdict).
//
// Why pub/sub on one channel per process rather than BLPOP on a list per waiter: BLPOP
// blocks a whole connection, so 64 concurrent waits need 64 connections, and a dead
// waiter's list outlives it. Here a process needs one extra connection whatever the
// number of waits, a wait costs no subscribe round trip, and a release wakes exactly the
// waiters that can go (no thundering herd). Pub/sub drops messages while a connection is
// down, so a waiter never relies on it alone: it also retries at every heartbeat and when
// the blocking lease is due to expire.
import type { LockRedis } from "./scripts";

interface Pending {
  woken: boolean;
  resolve: (() => void) | null;
}

export class Wakeups {
  private subscriber: LockRedis | null = null;
  private subscribed: Promise<void> | null = null;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly redis: LockRedis,
    readonly channel: string,
  ) {}

  /** Subscribes on first use; a failed attempt is retried by the next call. */
  ready(): Promise<void> {
    if (!this.subscribed) {
      const sub = this.subscriber ?? this.redis.duplicate();
      if (!this.subscriber) {
        this.subscriber = sub;
        sub.on("error", () => undefined); // reconnects and resubscribes by itself
        sub.on("message", (_channel: string, waiterId: string) => this.wake(waiterId));
      }
      this.subscribed = sub.subscribe(this.channel).then(
        () => undefined,
        (err: unknown) => {
          this.subscribed = null;
          throw err;
        },
      );
    }
    return this.subscribed;
  }

  /** Call before the first acquire attempt, so a wake-up that comes back fast is not lost. */
  register(waiterId: string): void {
    this.pending.set(waiterId, { woken: false, resolve: null });
  }

  unregister(waiterId: string): void {
    const p = this.pending.get(waiterId);
    this.pending.delete(waiterId);
    p?.resolve?.();
  }

  /** Resolves on a wake-up for `waiterId` (also one that came before the call), after `ms`, or on abort. */
  wait(waiterId: string, ms: number, signal?: AbortSignal): Promise<void> {
    const p = this.pending.get(waiterId);
    if (!p || p.woken || signal?.aborted) {
      if (p) p.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        p.resolve = null;
        p.woken = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
      p.resolve = done;
    });
  }

  close(): void {
    for (const id of [...this.pending.keys()]) this.unregister(id);
    this.subscriber?.disconnect();
    this.subscriber = null;
    this.subscribed = null;
  }

  private wake(waiterId: string): void {
    const p = this.pending.get(waiterId);
    if (!p) return;
    if (p.resolve) p.resolve();
    else p.woken = true;
  }
}
