import type { BranchClient } from "../participants/postgresShard";

export type { BranchClient };

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * Fault-injection points at each protocol step. Tests and the chaos runner use them to
 * stop the process exactly there; production leaves them unset (no cost on the hot path).
 */
export interface EngineHooks {
  afterBegin?(txId: string): void | Promise<void>;
  afterBranchWork?(txId: string, shard: string): void | Promise<void>;
  afterPrepare?(txId: string, shard: string): void | Promise<void>;
  afterDecision?(txId: string): void | Promise<void>;
  /** May throw to simulate a shard that cannot be reached in phase two. */
  beforeResolve?(txId: string, shard: string, commit: boolean): void | Promise<void>;
  afterBranchResolved?(txId: string, shard: string, commit: boolean): void | Promise<void>;
}

export interface EngineOptions {
  /** How long an instance's claim on its transactions lasts without a heartbeat. */
  leaseMs: number;
  heartbeatMs: number;
  /** Timeout of a transaction that does not give its own. */
  defaultTimeoutMs: number;
  phase2BaseDelayMs: number;
  phase2MaxDelayMs: number;
  /** Transactions recovered at once after a takeover. */
  recoveryConcurrency: number;
  /** How often live instances compare shards' prepared transactions with the log. */
  reconcileEveryMs: number;
  /** A lock lease outlives its transaction's deadline by this much, to cover phase two. */
  lockGraceMs: number;
  /** Phase-2 deliveries of a branch before its queue entry is dead-lettered. */
  phase2MaxDeliveries: number;
  /** Queue entries idle this long belong to a dead consumer and are reclaimed; must exceed phase2MaxDelayMs. */
  queueReclaimIdleMs: number;
  /** Be a consumer of the phase-2 stream (false for short-lived tools such as fault injection). */
  consumePhase2Queue: boolean;
  /**
   * The deployment namespace (COHORT_NAMESPACE): in every gid (its shards must carry the
   * same), the queue streams (`<namespace>:q:phase2`), the events stream and lock keys.
   */
  namespace: string;
  /** How often the deadlock detector looks for wait-for cycles. */
  deadlockCheckMs: number;
  host: string;
  pid: number;
}

export interface BeginOptions {
  label: string;
  timeoutMs?: number;
}

export type CommitOutcome =
  /** Every branch committed. */
  | { id: string; status: "COMMITTED" }
  /** Decided COMMIT; some branch could not be reached yet and phase two keeps retrying. */
  | { id: string; status: "COMMITTING"; pendingShards: string[] };
