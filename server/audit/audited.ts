// Runs an action and records it in the audit trail whatever happens (DESIGN.md §2: every
// action records a reason, the user, before and after). A success is recorded in the
// action's own SQL transaction, so a rolled-back change leaves no "ok" entry behind; a
// refusal (an exposed CohortError) or a failure is recorded afterwards, on its own.
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

/** Records a refused (expected, user-facing) or failed (internal) attempt; never throws. */
export async function recordRefusal(prisma: PrismaClient, base: AuditBase, err: unknown): Promise<void> {
  const refused = isCohortError(err) && err.expose;
  await recordAudit(prisma, {
    ...base,
    outcome: refused ? "refused" : "failed",
    // Internal messages may carry SQL or hosts, and the audit trail is shown to every viewer.
    message: refused ? err.message : "internal error (see the console's log)",
  }).catch((auditErr: unknown) => console.error("[audit] could not record a refused action:", auditErr));
}
