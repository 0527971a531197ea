// Runs an action and records it in the audit trail whatever happens (DESIGN.md §2: every
// action records a reason, the user, before and after). Two shapes:
//  - runAudited: the action is SQL on the coordinator database, and its success is recorded
//    in the action's own SQL transaction, so a rolled-back change leaves no "ok" entry;
//  - runThenAudit: the action's effect is somewhere SQL cannot roll back (Redis, a shard, a
//    running rebalance), so its success is recorded after it, and a failing audit write is
//    logged rather than reported: the change happened, and an error would say it did not.
// Either way a refusal (an exposed CohortError) or a failure is recorded on its own.
import type { Prisma } from "@prisma/client";
import type { PrismaClient } from "../db/prisma";
import { isCohortError } from "../errors";
import { recordAudit, type AuditInput } from "./audit";

export type AuditBase = Omit<AuditInput, "outcome" | "before" | "after" | "message">;

export interface AuditedResult<T> {
  result: T;
  before?: unknown;
  after?: unknown;
  /** Recorded as the entry's message (e.g. what the engine answered). */
  message?: string;
}

export async function runAudited<T>(
  prisma: PrismaClient,
  base: AuditBase,
  action: (tx: Prisma.TransactionClient) => Promise<AuditedResult<T>>,
): Promise<T> {
  try {
    return await prisma.$transaction(async (tx) => {
      const done = await action(tx);
      await recordAudit(tx, { ...base, outcome: "ok", before: done.before, after: done.after, message: done.message ?? null });
      return done.result;
    });
  } catch (err) {
    await recordRefusal(prisma, base, err);
    throw err;
  }
}

export async function runThenAudit<T>(
  prisma: PrismaClient,
  base: AuditBase,
  action: () => Promise<AuditedResult<T>>,
): Promise<T> {
  let done: AuditedResult<T>;
  try {
    done = await action();
  } catch (err) {
    await recordRefusal(prisma, base, err);
    throw err;
  }
  await recordDone(prisma, { ...base, outcome: "ok", before: done.before, after: done.after, message: done.message ?? null });
  return done.result;
}

/** Records an action that has taken effect; never throws (see runThenAudit). */
export async function recordDone(prisma: PrismaClient, entry: AuditInput): Promise<void> {
  await recordAudit(prisma, entry).catch((auditErr: unknown) =>
    console.error(`[audit] could not record ${entry.action} on ${entry.targetType} ${entry.targetId}:`, auditErr),
  );
}

/**
 * Records a refused (expected, user-facing) or failed (internal) attempt, with the states
 * before and after when the caller has them; never throws.
 */
export async function recordRefusal(
  prisma: PrismaClient,
  base: AuditBase & { before?: unknown; after?: unknown },
  err: unknown,
): Promise<void> {
  const refused = isCohortError(err) && err.expose;
  await recordAudit(prisma, {
    ...base,
    outcome: refused ? "refused" : "failed",
    // Internal messages may carry SQL or hosts, and the audit trail is shown to every viewer.
    message: refused ? err.message : "internal error (see the console's log)",
  }).catch((auditErr: unknown) => console.error("[audit] could not record a refused action:", auditErr));
}
