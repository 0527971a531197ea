import { describe, expect, it } from "vitest";
import { allowedActions } from "../../ops/guards";
import { DECISIONS, isFinalState, loggedDecision, mayAbort, TX_STATUSES } from "./states";
import { mayAbortSql, statusIn } from "./stateSql";

const rows = TX_STATUSES.flatMap((status) =>
  [null, ...DECISIONS].flatMap((decision) => [false, true].map((onePhase) => ({ status, decision, onePhase }))),
);

describe("the abort rule", () => {
  it("allows an abort exactly while the transaction is ACTIVE or PREPARING with no decision, and not a one-phase commit in doubt", () => {
    const abortable = rows.filter(mayAbort).map((r) => `${r.status}/${r.decision}/${r.onePhase}`);
    expect(abortable).toEqual(["ACTIVE/null/false", "PREPARING/null/false"]);
  });

  it("never allows one where the row stands for a COMMIT", () => {
    for (const row of rows) if (loggedDecision(row) === "COMMIT") expect(mayAbort(row)).toBe(false);
  });

  it("is what the console offers as force-abort", () => {
    for (const row of rows) {
      const offered = allowedActions({ ...row, endedAt: isFinalState(row.status) ? new Date() : null, branches: [] });
      expect([row, offered.find((a) => a.action === "force-abort")!.allowed]).toEqual([row, mayAbort(row)]);
    }
  });

  it("is what the compare-and-set checks", () => {
    expect(mayAbortSql().text).toBe("status IN ('ACTIVE', 'PREPARING') AND decision IS NULL AND NOT one_phase");
    expect(mayAbortSql("tx").text).toBe("tx.status IN ('ACTIVE', 'PREPARING') AND tx.decision IS NULL AND NOT tx.one_phase");
    expect(mayAbortSql().values).toEqual([]);
  });
});

describe("loggedDecision", () => {
  it("reads a status past the commit point as COMMIT even without a decision", () => {
    expect(loggedDecision({ status: "COMMITTING", decision: null })).toBe("COMMIT");
    expect(loggedDecision({ status: "ABORTING", decision: null })).toBe("ABORT");
    expect(loggedDecision({ status: "PREPARING", decision: null })).toBeNull();
    expect(loggedDecision({ status: "PREPARING", decision: "ABORT" })).toBe("ABORT");
  });
});

describe("statusIn", () => {
  it("writes the states as literals and refuses anything else", () => {
    expect(statusIn("b.status", ["ACTIVE", "PREPARED"]).text).toBe("b.status IN ('ACTIVE', 'PREPARED')");
    expect(() => statusIn("status; DROP TABLE x", ["ACTIVE"])).toThrow();
    expect(() => statusIn("status", ["ACTIVE'); --"])).toThrow();
    expect(() => statusIn("status", [])).toThrow();
  });
});
