// Shapes of the lock service's API (DESIGN.md §3). Times are ms since the epoch on the
// Redis server's clock, which is the one every lease and heartbeat is judged by.
export type LockMode = "shared" | "exclusive";

export interface LockGrant {
  key: string;
  owner: string;
  mode: LockMode;
  /**
   * Fencing token: a decimal string of an integer that grows with every grant of this
   * key (above 2^53 in time, so a string rather than a number; compare with BigInt).
   * Shards keep the highest token they saw per row and refuse older ones (fencing.ts).
   */
  token: string;
  acquiredAt: number;
  expiresAt: number;
}

export interface AcquireRequest {
  key: string;
  /** The transaction id. */
  owner: string;
  mode?: LockMode;
  ttlMs?: number;
  /** How long to queue for the lock; 0 fails at once when it is taken. */
  waitMs?: number;
  /** When the owning transaction began (ms): the youngest in a deadlock is the victim. */
  ownerStartedAt?: number;
  /** Stops waiting (the waiter leaves the queue) when aborted. */
  signal?: AbortSignal;
}

export interface LockHolder {
  owner: string;
  mode: LockMode;
  token: string;
  acquiredAt: number;
  expiresAt: number;
  host: string;
}

export interface LockWaiter {
  waiterId: string;
  owner: string;
  mode: LockMode;
  ownerStartedAt: number;
  enqueuedAt: number;
  /** When the waiter is dropped unless it heartbeats again. */
  heartbeatDeadline: number;
  /** Chosen as a deadlock victim; it fails with DEADLOCK_VICTIM on its next call. */
  victim: boolean;
  host: string;
}

export interface ForcedRelease {
  actor: string;
  reason: string;
  at: number;
  owner: string;
  token: string;
  fence: string;
}

export interface LockState {
  key: string;
  /** Redis time of the read. */
  now: number;
  /** Last token issued ("0" when the lock is idle and unrecorded). */
  fence: string;
  holders: LockHolder[];
  /** In FIFO order. */
  waiters: LockWaiter[];
  lastForcedRelease: ForcedRelease | null;
}

export interface HeldLock extends LockHolder {
  key: string;
  /** Live waiters queued on the key. */
  waiting: number;
}

export interface WaitForEdge {
  /** The transaction that waits. */
  waiter: string;
  /**
   * The transaction it waits for: one holding the key in a conflicting mode ("holds"),
   * or one queued ahead of it in a conflicting mode that will be served first ("queuedAhead").
   */
  holder: string;
  key: string;
  via: "holds" | "queuedAhead";
  waiterId: string;
  waiterStartedAt: number;
  /** Identifies the blocking grant (holder token) or wait (waiter id), to confirm a cycle. */
  blockerRef: string;
}

export interface ForceReleaseResult {
  key: string;
  before: LockHolder[];
  after: LockHolder[];
  /** The fence after the release: every later grant's token is above it. */
  fence: string;
  at: number;
}
