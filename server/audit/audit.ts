// The audit trail (DESIGN.md §2 "Every action", §7). One entry per attempted operator or
// admin action, including refused and failed ones: who, what, on what, why, and the state
// before and after. Actions on a transaction also land in that transaction's own timeline
// (tx_log), in the same SQL transaction, so the two can never disagree.
import { appendRecord } from "../engine/log/timeline";
import { Prisma } from "@prisma/client";
import { z } from "zod";
import type { PrismaClient } from "../db/prisma";
import { CohortError } from "../errors";
import { storableText } from "../db/storableText";
import { wholeNumber } from "../http/inputs";

export const AUDIT_OUTCOMES = ["ok", "refused", "failed"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditInput {
  /** id is null for actions without a console user (the command line). */
  user: { id: string | null; name: string };
  /** Dotted verb, e.g. "user.create", "queue.retryNow"; transaction actions use their console names ("force-abort"). */
  action: string;
  /** "transaction" also writes an `operator.<action>` record into the transaction's timeline. */
  targetType: string;
  targetId: string;
  reason?: string | null;
  /** JSON-serialisable snapshots; undefined and null are stored as SQL NULL. */
  before?: unknown;
  after?: unknown;
  outcome: AuditOutcome;
  /** Why it was refused or failed, or what the engine answered. */
  message?: string | null;
}

export interface AuditRecord {
  /** bigint as a decimal string: JSON numbers lose precision past 2^53. */
  id: string;
  at: string;
  userId: string | null;
  userName: string;
  action: string;
  targetType: string;
  targetId: string;
  reason: string | null;
  before: unknown;
  after: unknown;
  outcome: AuditOutcome;
  message: string | null;
}

export const TRANSACTION_TARGET = "transaction";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_BIGINT = 2n ** 63n - 1n;

const auditSelect = {
  id: true,
  at: true,
  userId: true,
  userName: true,
  action: true,
  targetType: true,
  targetId: true,
  reason: true,
  before: true,
  after: true,
  outcome: true,
  message: true,
} satisfies Prisma.AuditEntrySelect;

type AuditRow = Prisma.AuditEntryGetPayload<{ select: typeof auditSelect }>;

/**
 * Appends an entry. Pass the client of an open SQL transaction to make the entry part of
 * the action's own transaction; given the plain client, it opens one for the entry and the
 * timeline record together.
 */
export async function recordAudit(db: PrismaClient | Prisma.TransactionClient, entry: AuditInput): Promise<AuditRecord> {
  const onTransaction = entry.targetType === TRANSACTION_TARGET;
  if (onTransaction && !UUID.test(entry.targetId)) {
    throw new CohortError("BAD_REQUEST", "a transaction audit target must be a transaction id");
  }
  const before = toJson(entry.before);
  const after = toJson(entry.after);
  const write = async (tx: Prisma.TransactionClient): Promise<AuditRecord> => {
    const row = await tx.auditEntry.create({
      data: {
        userId: entry.user.id,
        // The entry of an action that took effect must not fail on its text: what PostgreSQL
        // cannot store (NUL, lone surrogates; refused at the edge, but not only the edge writes
        // here) is replaced rather than losing the row.
        userName: storableText(entry.user.name),
        action: storableText(entry.action),
        targetType: storableText(entry.targetType),
        targetId: storableText(entry.targetId),
        reason: entry.reason == null ? null : storableText(entry.reason),
        before: before ?? Prisma.DbNull,
        after: after ?? Prisma.DbNull,
        outcome: entry.outcome,
        message: entry.message == null ? null : storableText(entry.message),
      },
      select: auditSelect,
    });
    if (onTransaction) {
      // Through the log's one writer, in the audit's own database transaction.
      await appendRecord(tx, {
        txId: entry.targetId,
        at: row.at,
        type: `operator.${entry.action}`,
        actor: `user:${entry.user.name}`,
        data: {
          auditId: row.id.toString(),
          reason: entry.reason == null ? null : storableText(entry.reason),
          before: before ?? null,
          after: after ?? null,
          outcome: entry.outcome,
          ...(entry.message ? { message: storableText(entry.message) } : {}),
        },
      });
    }
    return toRecord(row);
  };
  return "$transaction" in db ? db.$transaction(write) : write(db);
}

export interface AuditFilter {
  /** The id of the last entry of the previous page; entries older than it come next. */
  cursor?: string | null | undefined;
  limit?: number | undefined;
  /** Exact user name. */
  user?: string | undefined;
  /** Prefix: "user." matches every user action. */
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  outcome?: AuditOutcome | undefined;
}

export interface AuditPage {
  entries: AuditRecord[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 200;

// PostgreSQL text cannot hold U+0000; the Audit page parses its URL with this schema too.
const filterText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((v) => !v.includes("\u0000"), "must not contain NUL characters");

/** Query-string form of AuditFilter, shared by GET /api/audit and the Audit page. */
export const auditFilterSchema = z.object({
  cursor: z
    .string()
    .regex(/^\d{1,19}$/, "must be an entry id")
    // Refinements run even after a failed regex, so this one must not assume the digits.
    .refine((v) => /^\d{1,19}$/.test(v) && BigInt(v) <= MAX_BIGINT, "must be an entry id")
    .optional(),
  limit: wholeNumber(1, AUDIT_PAGE_MAX).optional(),
  user: filterText(64).optional(),
  action: filterText(100).optional(),
  targetType: filterText(50).optional(),
  targetId: filterText(200).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
});

/** Newest first, keyset-paginated on the id (the primary key index, read backwards). */
export async function listAudit(db: Prisma.TransactionClient, filter: AuditFilter = {}): Promise<AuditPage> {
  const limit = Math.min(Math.max(Math.trunc(filter.limit ?? AUDIT_PAGE_DEFAULT), 1), AUDIT_PAGE_MAX);
  const cursor = parseCursor(filter.cursor);
  const where: Prisma.AuditEntryWhereInput = {
    ...(cursor !== null ? { id: { lt: cursor } } : {}),
    ...(filter.user ? { userName: filter.user } : {}),
    ...(filter.action ? { action: { startsWith: filter.action } } : {}),
    ...(filter.targetType ? { targetType: filter.targetType } : {}),
    ...(filter.targetId ? { targetId: filter.targetId } : {}),
    ...(filter.outcome ? { outcome: filter.outcome } : {}),
  };
  const rows = await db.auditEntry.findMany({ where, select: auditSelect, orderBy: { id: "desc" }, take: limit + 1 });
  const page = rows.slice(0, limit).map(toRecord);
  return { entries: page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}

function parseCursor(cursor: string | null | undefined): bigint | null {
  if (cursor === undefined || cursor === null || cursor === "") return null;
  if (!/^\d{1,19}$/.test(cursor) || BigInt(cursor) > MAX_BIGINT) throw new CohortError("BAD_REQUEST", "invalid audit cursor");
  return BigInt(cursor);
}

/** Snapshots are stored as plain JSON: dates become strings, bigints decimal strings. */
function toJson(value: unknown): Prisma.InputJsonValue | undefined {
  if (value === undefined || value === null) return undefined;
  // jsonb refuses \u0000 and lone surrogate escapes as well.
  const text = JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "bigint" ? v.toString() : typeof v === "string" ? storableText(v) : v,
  );
  return text === undefined ? undefined : (JSON.parse(text) as Prisma.InputJsonValue);
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id.toString(),
    at: row.at.toISOString(),
    userId: row.userId,
    userName: row.userName,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    reason: row.reason,
    before: row.before ?? null,
    after: row.after ?? null,
    outcome: row.outcome,
    message: row.message,
  };
}
