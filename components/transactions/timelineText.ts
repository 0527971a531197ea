// One line per coordinator-log record, in words, for the detail page's timeline. The raw
// data stays one click away; this only reads the fields the engine and operators write
// (server/engine/coordinatorLog.ts, server/ops/actions.ts) and falls back to compact JSON.
import type { TimelineRecord } from "@/server/transactions/types";

type Data = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null);
const list = (v: unknown): string | null =>
  Array.isArray(v) && v.length > 0 ? v.filter((x): x is string => typeof x === "string").join(", ") : null;
const parts = (...xs: (string | null | false | undefined)[]) => xs.filter(Boolean).join(" · ");

export function describeRecord(record: Pick<TimelineRecord, "type" | "data">): string {
  const data: Data = record.data && typeof record.data === "object" && !Array.isArray(record.data) ? (record.data as Data) : {};
  switch (record.type) {
    case "begin":
      return parts(str(data.label) && `label ${str(data.label)}`, str(data.deadlineAt) && `deadline ${str(data.deadlineAt)}`);
    case "prepare":
      return parts(list(data.shards) && `preparing ${list(data.shards)}`);
    case "decision": {
      const votes =
        data.votes && typeof data.votes === "object"
          ? Object.entries(data.votes as Data)
              .map(([shard, vote]) => `${shard} ${String(vote)}`)
              .join(", ")
          : null;
      return parts(
        str(data.decision) ?? "decision",
        data.forced === true && "forced by an operator",
        votes && `votes: ${votes}`,
        str(data.reason),
      );
    }
    case "vote":
      return parts(data.yes === true ? "voted yes" : data.yes === false ? "voted no" : null, str(data.error));
    case "phase2.done":
      return parts(str(data.status), str(data.note));
    case "phase2.error":
      return parts(str(data.error), str(data.nextRetryAt) && `next retry ${str(data.nextRetryAt)}`);
    case "end":
      return parts(str(data.status), list(data.resolved) && `resolved ${list(data.resolved)}`, str(data.reason));
    case "takeover":
      return parts(
        str(data.from) ? `from ${str(data.from)}` : "from no coordinator",
        str(data.status) && `while ${str(data.status)}`,
      );
    default: {
      const reason = str(data.reason);
      if (reason && Object.keys(data).length === 1) return reason;
      return Object.keys(data).length === 0 ? "" : compactJson(data);
    }
  }
}

function compactJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}
