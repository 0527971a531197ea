// What the coordinator log's row says without timeline records. The lean commit path
// (server/engine/coordinatorLog.ts) writes no records on the happy path: the row's
// timestamps are the begin, prepare, decision and end records, and a COMMIT decision means
// every branch voted yes, so a branch row left ACTIVE under it was PREPARED. The console
// shows both exactly as it did when they were written out; this is their single owner.

import type { TimelineRecord } from "./types";

/** The row fields the derived records and branch states are made from. */
export interface LogRow {
  label: string;
  status: string;
  decision: string | null;
  coordinatorId: string | null;
  onePhase: boolean;
  startedAt: Date;
  deadlineAt: Date;
  preparedAt: Date | null;
  decidedAt: Date | null;
  endedAt: Date | null;
}

/** A timeline record as the console shows it (written, or derived here). */
export type RecordLike = TimelineRecord;

/** Record types that carry a decision: any of them makes a derived decision record redundant. */
const DECISION_TYPES = new Set(["decision", "abort", "timeout", "recovery.abort", "deadlock.victim", "one-phase.settled"]);

/**
 * `records` (oldest first) with the records the row implies added where they were not
 * written: begin, prepare, a COMMIT decision and the end. Derived records have ids
 * `row:<type>`, so they never collide with tx_log ids.
 */
export function withRowRecords(row: LogRow, shards: string[], records: RecordLike[]): RecordLike[] {
  const has = (pred: (r: RecordLike) => boolean) => records.some(pred);
  const takeover = records.find((r) => r.type === "takeover");
  const from = (takeover?.data as { from?: string } | null | undefined)?.from;
  const actor = from ? `engine:${from}` : row.coordinatorId ? `engine:${row.coordinatorId}` : "engine";
  const derived: RecordLike[] = [];
  const add = (type: string, at: Date, data: unknown) =>
    derived.push({ id: `row:${type}`, at: at.toISOString(), type, actor, shard: null, data });
  if (!has((r) => r.type === "begin"))
    add("begin", row.startedAt, { label: row.label, deadlineAt: row.deadlineAt.toISOString() });
  if (row.preparedAt && !row.onePhase && !has((r) => r.type === "prepare")) add("prepare", row.preparedAt, { shards });
  // Without a PREPARE (a transaction with no branch work) the end record is the decision too.
  const prepared = row.preparedAt !== null || row.onePhase;
  if (prepared && row.decision === "COMMIT" && row.decidedAt && !has((r) => DECISION_TYPES.has(r.type))) {
    add(
      "decision",
      row.decidedAt,
      row.onePhase
        ? { decision: "COMMIT", onePhase: true, shard: shards[0] ?? null }
        : { decision: "COMMIT", votes: Object.fromEntries(shards.map((s) => [s, "yes"])) },
    );
  }
  if (row.endedAt && (row.status === "COMMITTED" || row.status === "ABORTED") && !has((r) => r.type === "end")) {
    add("end", row.endedAt, { status: row.status, resolved: row.status === "COMMITTED" ? shards : [] });
  }
  if (derived.length === 0) return records;
  // Stable by time; a derived record sorts before a written one of the same millisecond.
  return [...derived, ...records]
    .map((r, i) => ({ r, i, t: Date.parse(r.at) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.r);
}

/**
 * A branch as the log means it: under a COMMIT decision a branch the decision did not
 * touch (status ACTIVE, no vote) voted yes and is prepared.
 */
export function branchAsLogged<B extends { status: string; vote: boolean | null; preparedAt?: Date | null }>(
  decision: string | null,
  decidedAt: Date | null,
  b: B,
): B {
  if (decision !== "COMMIT" || b.status !== "ACTIVE") return b;
  return {
    ...b,
    status: "PREPARED",
    vote: b.vote ?? true,
    ...("preparedAt" in b ? { preparedAt: b.preparedAt ?? decidedAt } : {}),
  };
}
