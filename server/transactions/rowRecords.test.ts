import { describe, expect, it } from "vitest";
import { branchAsLogged, withRowRecords, type LogRow } from "./rowRecords";

const t = (s: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, s));
const base: LogRow = {
  label: "transfer",
  status: "COMMITTED",
  decision: "COMMIT",
  coordinatorId: "c0ffee00-0000-7000-8000-000000000001",
  onePhase: false,
  startedAt: t(0),
  deadlineAt: t(30),
  preparedAt: t(1),
  decidedAt: t(2),
  endedAt: t(3),
};

describe("withRowRecords", () => {
  it("derives begin, prepare, decision and end of a committed two-phase transaction with no records", () => {
    const records = withRowRecords(base, ["shard-a", "shard-b"], []);
    expect(records.map((r) => [r.type, r.at, r.actor])).toEqual([
      ["begin", t(0).toISOString(), `engine:${base.coordinatorId}`],
      ["prepare", t(1).toISOString(), `engine:${base.coordinatorId}`],
      ["decision", t(2).toISOString(), `engine:${base.coordinatorId}`],
      ["end", t(3).toISOString(), `engine:${base.coordinatorId}`],
    ]);
    expect(records[2]!.data).toEqual({ decision: "COMMIT", votes: { "shard-a": "yes", "shard-b": "yes" } });
  });

  it("keeps written records and derives only what is missing, in time order", () => {
    const written = [
      { id: "7", at: t(2.5).toISOString(), type: "phase2.error", actor: "engine:x", shard: "shard-b", data: {} },
      { id: "8", at: t(2.8).toISOString(), type: "takeover", actor: "recovery:y", shard: null, data: { from: "old-engine" } },
      { id: "9", at: t(3).toISOString(), type: "end", actor: "recovery:y", shard: null, data: { status: "COMMITTED" } },
    ];
    const records = withRowRecords(base, ["shard-a", "shard-b"], written);
    expect(records.map((r) => r.type)).toEqual(["begin", "prepare", "decision", "phase2.error", "takeover", "end"]);
    // The steps before a takeover were the previous coordinator's.
    expect(records[0]!.actor).toBe("engine:old-engine");
  });

  it("derives no decision for an abort (aborts always write theirs) or a transaction without branches", () => {
    const aborted = { ...base, status: "ABORTED", decision: "ABORT" };
    const abortRecord = { id: "1", at: t(2).toISOString(), type: "decision", actor: "engine:x", shard: null, data: {} };
    expect(withRowRecords(aborted, ["shard-a"], [abortRecord]).map((r) => r.type)).toEqual([
      "begin",
      "prepare",
      "decision",
      "end",
    ]);
    const branchless = { ...base, preparedAt: null };
    expect(withRowRecords(branchless, [], []).map((r) => r.type)).toEqual(["begin", "end"]);
  });

  it("marks a one-phase decision as such", () => {
    const one = { ...base, onePhase: true, preparedAt: null };
    const records = withRowRecords(one, ["shard-a"], []);
    expect(records.map((r) => r.type)).toEqual(["begin", "decision", "end"]);
    expect(records[1]!.data).toEqual({ decision: "COMMIT", onePhase: true, shard: "shard-a" });
  });
});

describe("branchAsLogged", () => {
  it("shows a branch the COMMIT decision left ACTIVE as prepared with a yes vote", () => {
    const b = { status: "ACTIVE", vote: null, preparedAt: null };
    expect(branchAsLogged("COMMIT", t(2), b)).toEqual({ status: "PREPARED", vote: true, preparedAt: t(2) });
    expect(branchAsLogged(null, null, b)).toBe(b);
    expect(branchAsLogged("COMMIT", t(2), { status: "COMMITTED", vote: true })).toEqual({ status: "COMMITTED", vote: true });
  });
});
