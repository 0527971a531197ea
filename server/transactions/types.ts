// What the transaction pages and their APIs return. JSON-shaped (times are ISO strings)
// so the server-rendered first page and later fetches fill the browser cache alike.
import type { ActionOption } from "../ops/guards";
import type { BranchStatus, Decision, TxStatus } from "../engine/log/states";

export type { BranchStatus, Decision, TxStatus };

export interface TxListItem {
  id: string;
  label: string;
  status: TxStatus;
  decision: Decision | null;
  startedAt: string;
  decidedAt: string | null;
  endedAt: string | null;
  updatedAt: string;
  /** Shards with a branch, sorted; empty before the transaction prepares. */
  shards: string[];
  /** Keyset position of this row: passing it as `cursor` continues after it. */
  cursor: string;
}

export interface TxListPage {
  items: TxListItem[];
  /** Null on the last page. */
  nextCursor: string | null;
}

export interface BranchView {
  shard: string;
  gid: string;
  status: BranchStatus;
  vote: boolean | null;
  attempts: number;
  lastError: string | null;
  nextRetryAt: string | null;
  preparedAt: string | null;
  resolvedAt: string | null;
}

export interface TimelineRecord {
  /** tx_log.id as a string: it is a bigint. */
  id: string;
  at: string;
  type: string;
  actor: string;
  shard: string | null;
  data: unknown;
}

export interface InDoubtInfo {
  inDoubt: boolean;
  /** When the coordinator log last recorded a state change of the transaction. */
  lastProgressAt: string;
  /** Seconds since lastProgressAt (at the time of the read). */
  stalledSeconds: number;
  thresholdSeconds: number;
}

export interface TxDetail {
  id: string;
  label: string;
  status: TxStatus;
  decision: Decision | null;
  coordinatorId: string | null;
  startedAt: string;
  deadlineAt: string;
  decidedAt: string | null;
  endedAt: string | null;
  updatedAt: string;
  abortReason: string | null;
  branches: BranchView[];
  /** The coordinator log's records for this transaction, oldest first. */
  timeline: TimelineRecord[];
  /** True when older records were left out (see detail.ts, TIMELINE_LIMIT). */
  timelineTruncated: boolean;
  inDoubt: InDoubtInfo;
  /** Operator actions and whether the guards allow them now (server/ops/guards.ts). */
  actions: ActionOption[];
  /** Server time of the read, for ages shown relative to it. */
  at: string;
}
