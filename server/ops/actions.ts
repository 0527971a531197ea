// Guarded operator actions on transactions (DESIGN.md §2). Each one re-checks its guard
// inside a compare-and-set on the coordinator log, so an engine that reaches its commit
// point at the same moment either wins or loses cleanly, and the operator is told which.
// Every attempt, refused or not, is audited with the user and the reason.
import type pg from "pg";
import type { Prisma } from "@prisma/client";
import { recordAudit, TRANSACTION_TARGET } from "../audit/audit";
import { recordDone, recordRefusal, type AuditBase } from "../audit/audited";
import type { PrismaClient } from "../db/prisma";
import type { Engine } from "../engine/engine";
import { forceAbortDecision, forceCommitDecision, releaseOwnership, retryBranchesNow } from "../engine/log/operatorDecisions";
import { loggedDecision } from "../engine/log/states";
import { CohortError, errorMessage, isCohortError } from "../errors";
import type { PostgresShard } from "../participants/postgresShard";
import { readSnapshot, type TxSnapshot } from "./snapshot";

export interface Operator {
  id: string;
  name: string;
}

export interface OpsDeps {
  prisma: PrismaClient;
  /** Synchronous-commit pool: an operator's decision is forced like the engine's. */
  pool: pg.Pool;
  shards: Map<string, PostgresShard>;
  /** The engine instance in this process, which drives phase two right away; without one
   * the decision is left unowned and the next live instance takes it over within a heartbeat. */
  engine: Engine | null;
}

export interface ActionRequest {
  txId: string;
  operator: Operator;
  reason: string;
}

export interface ActionResult {
  /** done: this action took effect. already: the outcome it asked for was already logged. */
  outcome: "done" | "already";
  message: string;
  before: TxSnapshot;
  after: TxSnapshot;
}

const actor = (op: Operator) => `user:${op.name}`;

const ONE_PHASE_IN_DOUBT =
  "a one-phase commit whose reply was lost: the shard's own COMMIT decided it, and only the shard can say how (retry asks it)";

export async function forceAbort(deps: OpsDeps, req: ActionRequest): Promise<ActionResult> {
  return decided(deps, req, "force-abort", async (tx) => {
    const reason = `force-aborted by ${req.operator.name}: ${req.reason}`;
    // One rule with the engine's own aborts (log/states.ts mayAbort), in the same
    // compare-and-set; it clears coordinator_id, so a hung coordinator loses its claim.
    const won = await forceAbortDecision(tx, {
      txId: req.txId,
      reason,
      operatorReason: req.reason,
      actor: actor(req.operator),
    });
    if (!won) {
      const now = await readSnapshot(tx, req.txId);
      const logged = loggedDecision(now);
      if (logged === "COMMIT") {
        throw refused(
          now.decision === "COMMIT"
            ? `the coordinator logged COMMIT first: the transaction commits and cannot be aborted (use retry to re-drive phase two)`
            : `the transaction is ${now.status}, past its commit point: it commits and cannot be aborted (use retry to re-drive phase two)`,
          now,
        );
      }
      if (logged === "ABORT") return { outcome: "already", message: `an ABORT decision was already logged (${now.status})` };
      if (now.onePhase) throw refused(`it is ${ONE_PHASE_IN_DOUBT}`, now);
      throw refused(`the transaction is ${now.status}: it cannot be aborted`, now);
    }
    return { outcome: "done", message: "ABORT logged" };
  });
}

export async function forceCommit(deps: OpsDeps, req: ActionRequest): Promise<ActionResult> {
  return decided(deps, req, "force-commit", async (tx, before) => {
    if (before.decision === "COMMIT")
      return { outcome: "already", message: "a COMMIT decision is already logged: use retry to re-drive phase two" };
    if (before.decision === "ABORT") throw refused("an ABORT decision is logged and can never be flipped", before);
    if (before.onePhase) throw refused(`it is ${ONE_PHASE_IN_DOUBT}`, before);
    if (before.status !== "PREPARING")
      throw refused(`the transaction is ${before.status}: its branches were not all asked to prepare`, before);
    const no = before.branches.filter((b) => b.vote === false || b.status === "FAILED");
    if (no.length) throw refused(`branch ${no.map((b) => b.shard).join(", ")} voted no`, before);
    if (before.branches.length === 0) throw refused("no branches are logged", before);
    // A yes vote is a prepared transaction on the shard; the log only records votes at the
    // commit point, so ask every shard now.
    const missing: string[] = [];
    for (const b of before.branches) {
      const shard = deps.shards.get(b.shard);
      if (!shard) throw refused(`shard ${b.shard} is not configured in this console`, before);
      const prepared = await shard.isPrepared(req.txId).catch((err: unknown) => {
        throw refused(`shard ${b.shard} cannot be asked whether its branch is prepared: ${errorMessage(err)}`, before);
      });
      if (!prepared) missing.push(b.shard);
    }
    if (missing.length) throw refused(`no prepared transaction on ${missing.join(", ")}: that branch did not vote yes`, before);
    const shards = before.branches.map((b) => b.shard);
    // The same decision the engine writes (see forceCommitDecision).
    const won = await forceCommitDecision(tx, { txId: req.txId, shards, actor: actor(req.operator) });
    if (!won) {
      const now = await readSnapshot(tx, req.txId);
      if (now.decision === "COMMIT") return { outcome: "already", message: "the coordinator logged COMMIT first" };
      throw refused(`the coordinator logged ${now.decision ?? now.status} first: the transaction cannot be committed`, now);
    }
    return { outcome: "done", message: "COMMIT logged" };
  });
}

export async function retryNow(deps: OpsDeps, req: ActionRequest): Promise<ActionResult> {
  return audited(deps, req, "retry", async (before) => {
    if (before.endedAt) throw refused(`the transaction already finished as ${before.status}`, before);
    if (!before.decision)
      throw refused("no decision is logged: there is no phase two to retry (force-abort or force-commit instead)", before);
    await retryBranchesNow(deps.pool, req.txId);
    const driven = await drive(deps, req);
    return { outcome: "done", message: driven };
  });
}

/**
 * Phase two after an operator's decision: now in this process, or by the next live instance.
 * Never throws: the decision is logged by now, and an error would tell the operator that the
 * action failed when only its delivery is late.
 */
async function drive(deps: OpsDeps, req: ActionRequest): Promise<string> {
  if (!deps.engine) {
    await releaseOwnership(deps.pool, req.txId);
    return "phase two is queued for the next engine heartbeat";
  }
  try {
    const result = await deps.engine.adopt(req.txId, actor(req.operator));
    if (!result) return "the transaction is finished or still owned by its live coordinator";
    if (result.pending.length === 0) return "phase two reached every branch";
    return `phase two is still pending on ${result.pending.join(", ")} and keeps retrying`;
  } catch (err) {
    const exposed = isCohortError(err) && err.expose;
    if (!exposed) console.error(`[ops] phase two of ${req.txId} could not start after ${actor(req.operator)}'s action:`, err);
    return `phase two did not start in this console (${exposed ? err.message : "internal error, see the console's log"}); a live engine instance takes it over within a heartbeat`;
  }
}

function refused(message: string, now: TxSnapshot): CohortError {
  return new CohortError("DECISION_CONFLICT", message, { details: { status: now.status, decision: now.decision } });
}

function auditBase(req: ActionRequest, action: string): AuditBase {
  return { user: req.operator, action, targetType: TRANSACTION_TARGET, targetId: req.txId, reason: req.reason };
}

/**
 * A forced decision (force-abort, force-commit): the compare-and-set and its audit record
 * commit together in one forced database transaction (DESIGN.md §2), so there is never an
 * operator's decision nobody answers for, nor an audit row for a decision that did not
 * happen. Phase two follows the commit and never undoes it; refusals are audited apart.
 */
async function decided(
  deps: OpsDeps,
  req: ActionRequest,
  action: string,
  decide: (tx: Prisma.TransactionClient, before: TxSnapshot) => Promise<{ outcome: ActionResult["outcome"]; message: string }>,
): Promise<ActionResult> {
  const before = await readSnapshot(deps.prisma, req.txId);
  const base = auditBase(req, action);
  let done: { result: { outcome: ActionResult["outcome"]; message: string }; after: TxSnapshot };
  try {
    done = await deps.prisma.$transaction(async (tx) => {
      const result = await decide(tx, before);
      const after = await readSnapshot(tx, req.txId);
      await recordAudit(tx, { ...base, outcome: "ok", before, after, message: result.message });
      return { result, after };
    });
  } catch (err) {
    const after = await readSnapshot(deps.prisma, req.txId).catch(() => before);
    await recordRefusal(deps.prisma, { ...base, before, after }, err);
    throw err;
  }
  const { result } = done;
  if (result.outcome !== "done") return { ...result, before, after: done.after };
  const message = `${result.message}; ${await drive(deps, req)}`;
  // The audit keeps the state the decision left; the caller sees where phase two got to.
  const after = await readSnapshot(deps.prisma, req.txId).catch(() => done.after);
  return { outcome: result.outcome, message, before, after };
}

/** Runs an action between two snapshots of the transaction and audits it whatever happens. */
async function audited(
  deps: OpsDeps,
  req: ActionRequest,
  action: string,
  run: (before: TxSnapshot) => Promise<{ outcome: ActionResult["outcome"]; message: string }>,
): Promise<ActionResult> {
  const before = await readSnapshot(deps.prisma, req.txId);
  const base = auditBase(req, action);
  const now = () => readSnapshot(deps.prisma, req.txId).catch(() => before);
  let result: { outcome: ActionResult["outcome"]; message: string };
  try {
    result = await run(before);
  } catch (err) {
    await recordRefusal(deps.prisma, { ...base, before, after: await now() }, err);
    throw err;
  }
  // Decisions are forced through the pool, outside Prisma: recorded once they are made.
  const after = await now();
  await recordDone(deps.prisma, { ...base, outcome: "ok", before, after, message: result.message });
  return { ...result, before, after };
}
