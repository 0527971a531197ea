import { describe, expect, it } from "vitest";
import { allowedActions, type GuardInput } from "./guards";

const allowed = (tx: GuardInput) => Object.fromEntries(allowedActions(tx).map((a) => [a.action, a.allowed]));
const prepared = { status: "ACTIVE", vote: null };

describe("allowedActions", () => {
  it("offers only retry (asking the shard) for a one-phase commit in doubt: its shard, not an operator, decided it", () => {
    const options = allowedActions({ status: "PREPARING", decision: null, onePhase: true, branches: [prepared] });
    expect(Object.fromEntries(options.map((a) => [a.action, a.allowed]))).toEqual({
      retry: true,
      "force-abort": false,
      "force-commit": false,
    });
    expect(options.find((a) => a.action === "force-abort")!.why).toMatch(/one-phase/);
  });
  it("offers abort and commit for an undecided transaction whose branches are all prepared", () => {
    expect(
      allowed({
        status: "PREPARING",
        decision: null,
        branches: [prepared, prepared],
        branchShards: ["a", "b"],
        preparedOnShards: { a: true, b: true },
      }),
    ).toEqual({ retry: false, "force-abort": true, "force-commit": true });
  });
  it("never offers commit when a branch voted no or is not prepared on its shard", () => {
    expect(
      allowed({ status: "PREPARING", decision: null, branches: [prepared, { status: "FAILED", vote: false }] })["force-commit"],
    ).toBe(false);
    expect(
      allowed({
        status: "PREPARING",
        decision: null,
        branches: [prepared, prepared],
        branchShards: ["a", "b"],
        preparedOnShards: { a: true, b: false },
      })["force-commit"],
    ).toBe(false);
  });
  it("only re-drives a logged decision, never flips it", () => {
    expect(allowed({ status: "COMMITTING", decision: "COMMIT", branches: [prepared] })).toEqual({
      retry: true,
      "force-abort": false,
      "force-commit": false,
    });
    expect(allowed({ status: "ABORTING", decision: "ABORT", branches: [prepared] })).toEqual({
      retry: true,
      "force-abort": false,
      "force-commit": false,
    });
  });
  it("offers nothing for finished transactions", () => {
    expect(allowed({ status: "COMMITTED", decision: "COMMIT", branches: [] })).toEqual({
      retry: false,
      "force-abort": false,
      "force-commit": false,
    });
  });
  it("allows aborting an active transaction but not committing it", () => {
    expect(allowed({ status: "ACTIVE", decision: null, branches: [] })).toEqual({
      retry: false,
      "force-abort": true,
      "force-commit": false,
    });
  });
});
