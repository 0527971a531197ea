// The guards on manual resolution (DESIGN.md §2). These decide what the console offers;
// the actions themselves re-check everything with compare-and-set writes, because the
// engine may move the transaction between the page load and the click.
import { isFinalState, loggedDecision, mayAbort } from "../engine/log/states";

export type ActionName = "retry" | "force-abort" | "force-commit";

export interface GuardInput {
  status: string;
  decision: string | null;
  endedAt?: Date | string | null;
  /** A one-phase commit (PREPARING: in doubt, its COMMIT's reply lost): the shard decided it. */
  onePhase?: boolean;
  branches: { status: string; vote: boolean | null }[];
  /** Shards holding each branch's prepared transaction right now, when known. */
  preparedOnShards?: Record<string, boolean>;
  branchShards?: string[];
}

export interface ActionOption {
  action: ActionName;
  allowed: boolean;
  why: string;
}

export function allowedActions(tx: GuardInput): ActionOption[] {
  const ended = isFinalState(tx.status) || Boolean(tx.endedAt);
  if (ended) {
    const why = `the transaction is ${tx.status}: nothing is left to resolve`;
    return [
      { action: "retry", allowed: false, why },
      { action: "force-abort", allowed: false, why },
      { action: "force-commit", allowed: false, why },
    ];
  }
  const decided = tx.decision === "COMMIT" || tx.decision === "ABORT";
  const retry: ActionOption = decided
    ? { action: "retry", allowed: true, why: `re-drives phase two of the logged ${tx.decision} decision now` }
    : tx.onePhase
      ? { action: "retry", allowed: true, why: "asks the shard now what became of the one-phase COMMIT whose reply was lost" }
      : { action: "retry", allowed: false, why: "no decision is logged yet: there is no phase two to retry" };
  const forceAbort: ActionOption =
    tx.decision === "COMMIT"
      ? { action: "force-abort", allowed: false, why: "a COMMIT decision is logged: it can only be re-driven, never flipped" }
      : tx.decision === "ABORT"
        ? { action: "force-abort", allowed: false, why: "an ABORT decision is already logged: use retry to re-drive it" }
        : tx.onePhase
          ? {
              action: "force-abort",
              allowed: false,
              why: "a one-phase commit whose reply was lost: the shard's own COMMIT decided it (retry asks the shard)",
            }
          : mayAbort(tx)
            ? { action: "force-abort", allowed: true, why: "no decision is logged: aborting is always safe (presumed abort)" }
            : {
                action: "force-abort",
                allowed: false,
                why:
                  loggedDecision(tx) === "COMMIT"
                    ? `the transaction is ${tx.status}, past its commit point: it can only be re-driven, never aborted`
                    : `the transaction is ${tx.status}: its abort is already under way`,
              };
  return [retry, forceAbort, forceCommitOption(tx)];
}

function forceCommitOption(tx: GuardInput): ActionOption {
  const no = (why: string): ActionOption => ({ action: "force-commit", allowed: false, why });
  if (tx.decision === "COMMIT") return no("a COMMIT decision is already logged: use retry to re-drive it");
  if (tx.decision === "ABORT") return no("an ABORT decision is logged: it can never be flipped");
  if (tx.onePhase) return no("a one-phase commit whose reply was lost: the shard's own COMMIT decided it (retry asks the shard)");
  if (tx.status !== "PREPARING")
    return no(`the transaction is ${tx.status}: only a transaction whose branches were all asked to prepare can be committed`);
  if (tx.branches.length === 0) return no("no branches are logged");
  if (tx.branches.some((b) => b.vote === false || b.status === "FAILED")) return no("a branch voted no");
  if (tx.preparedOnShards && tx.branchShards) {
    const missing = tx.branchShards.filter((s) => !tx.preparedOnShards![s]);
    if (missing.length > 0) return no(`no prepared transaction on ${missing.join(", ")}: that branch did not vote yes`);
    return { action: "force-commit", allowed: true, why: "every branch is prepared (voted yes) and no decision is logged" };
  }
  return {
    action: "force-commit",
    allowed: true,
    why: "allowed if every branch is still prepared on its shard (checked when you confirm)",
  };
}
