import { describe, expect, it } from "vitest";
import { describeRecord } from "./timelineText";

describe("timeline records in words", () => {
  it.each([
    [
      { type: "begin", data: { label: "transfer", deadlineAt: "2026-03-01T12:00:30Z" } },
      "label transfer · deadline 2026-03-01T12:00:30Z",
    ],
    [{ type: "prepare", data: { shards: ["shard-a", "shard-b"] } }, "preparing shard-a, shard-b"],
    [
      { type: "decision", data: { decision: "COMMIT", votes: { "shard-a": "yes", "shard-b": "yes" } } },
      "COMMIT · votes: shard-a yes, shard-b yes",
    ],
    [{ type: "decision", data: { decision: "ABORT", forced: true, reason: "stuck" } }, "ABORT · forced by an operator · stuck"],
    [{ type: "vote", data: { yes: false, error: "deadlock detected" } }, "voted no · deadlock detected"],
    [{ type: "phase2.done", data: { status: "COMMITTED", note: null } }, "COMMITTED"],
    [
      { type: "phase2.error", data: { error: "connection refused", nextRetryAt: "2026-03-01T12:00:05Z" } },
      "connection refused · next retry 2026-03-01T12:00:05Z",
    ],
    [{ type: "end", data: { status: "COMMITTED", resolved: ["shard-a"] } }, "COMMITTED · resolved shard-a"],
    [{ type: "takeover", data: { from: null, status: "COMMITTING" } }, "from no coordinator · while COMMITTING"],
    [{ type: "operator.retry", data: { reason: "shard is back" } }, "shard is back"],
    [{ type: "reconcile", data: { committed: 1 } }, '{"committed":1}'],
    [{ type: "anything", data: null }, ""],
    [{ type: "decision", data: "not an object" }, "decision"],
  ])("%j", (record, text) => {
    expect(describeRecord(record)).toBe(text);
  });
});
