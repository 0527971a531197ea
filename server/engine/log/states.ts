// The states of the coordinator log and the predicates over them (DESIGN.md §2, §8: one
// module holds the states). Every other module asks here instead of listing states itself.
// Free of imports, so the browser can use it too; the SQL that enforces the same sets is
// built from these constants in stateSql.ts.

export const TX_STATUSES = ["ACTIVE", "PREPARING", "COMMITTING", "COMMITTED", "ABORTING", "ABORTED"] as const;
export type TxStatus = (typeof TX_STATUSES)[number];

export const BRANCH_STATUSES = ["ACTIVE", "PREPARED", "FAILED", "COMMITTED", "ABORTED"] as const;
export type BranchStatus = (typeof BRANCH_STATUSES)[number];

export const DECISIONS = ["COMMIT", "ABORT"] as const;
export type Decision = (typeof DECISIONS)[number];

/** Unfinished: no end record yet (`ended_at IS NULL`, served by the partial indexes on it). */
export const OPEN_STATES = ["ACTIVE", "PREPARING", "COMMITTING", "ABORTING"] as const satisfies readonly TxStatus[];
export type OpenTxStatus = (typeof OPEN_STATES)[number];

/** Finished: the end record is written and every branch has its outcome. */
export const FINAL_STATES = ["COMMITTED", "ABORTED"] as const satisfies readonly TxStatus[];

/** Before the commit point: no decision is logged, and the only outcome still possible without one is abort. */
export const UNDECIDED_STATES = ["ACTIVE", "PREPARING"] as const satisfies readonly TxStatus[];

/** A decision is logged and phase two is delivering it. */
export const DELIVERING_STATES = ["COMMITTING", "ABORTING"] as const satisfies readonly TxStatus[];

/**
 * States in which a transaction may have prepared branches that no outcome has reached yet:
 * past the first PREPARE and not ended. Held too long in one of them, it is in doubt.
 */
export const IN_DOUBT_STATES = ["PREPARING", "COMMITTING", "ABORTING"] as const satisfies readonly TxStatus[];

/** A branch that has no outcome yet: still working, or prepared and waiting for one. */
export const UNRESOLVED_BRANCH_STATES = ["ACTIVE", "PREPARED"] as const satisfies readonly BranchStatus[];

const member =
  <S extends string>(set: readonly S[]) =>
  (status: string): status is S =>
    (set as readonly string[]).includes(status);

export const isTxStatus = member(TX_STATUSES);
export const isOpenState = member(OPEN_STATES);
export const isFinalState = member(FINAL_STATES);
export const isUndecidedState = member(UNDECIDED_STATES);
export const isInDoubtState = member(IN_DOUBT_STATES);
export const isUnresolvedBranch = member(UNRESOLVED_BRANCH_STATES);

/**
 * THE abort rule, for the engine (its own abort, recovery's) and the operator's force-abort
 * alike; `MAY_ABORT_SQL` (stateSql.ts) is the same rule inside their compare-and-set.
 *
 * A transaction may be aborted while it is undecided and not ended: ACTIVE or PREPARING
 * with no decision. Why exactly these:
 * - COMMITTING and COMMITTED are past the commit point. Recovery, reconciliation and phase
 *   two read status COMMITTING as COMMIT even where the decision column is empty, so
 *   aborting such a row would roll back branches others are committing.
 * - ABORTING and ABORTED already carry an abort: writing it again would only rewrite its
 *   reason and time.
 * - Not a one-phase commit in doubt (PREPARING with one_phase: its COMMIT's reply was
 *   lost): the shard's own COMMIT decided it, and only the shard can say how (recovery and
 *   retry ask it). Logging ABORT could contradict a commit that happened.
 * - `decision IS NULL` as well, because the decision, not the status, is what the
 *   commit-point compare-and-set writes first; an abort must never replace it.
 * ACTIVE and PREPARING rows never have `ended_at` set (every end record moves the status to
 * COMMITTED or ABORTED), so "not ended" needs no clause of its own. The operator's rule was
 * once `decision IS NULL AND ended_at IS NULL`, which let a COMMITTING row without a
 * decision be aborted against what every other reader of the log concludes from it.
 */
export function mayAbort(tx: { status: string; decision: string | null; onePhase?: boolean }): boolean {
  return isUndecidedState(tx.status) && tx.decision === null && !tx.onePhase;
}

/**
 * The decision a row stands for: its decision column or what its status implies. Any sign
 * of COMMIT wins, since a row past the commit point must never be read as an abort. Null
 * while undecided.
 */
export function loggedDecision(tx: { status: string; decision: string | null }): Decision | null {
  if (tx.decision === "COMMIT" || tx.status === "COMMITTING" || tx.status === "COMMITTED") return "COMMIT";
  if (tx.decision === "ABORT" || tx.status === "ABORTING" || tx.status === "ABORTED") return "ABORT";
  return null;
}
