// JSON shapes of the in-doubt API (dates arrive as ISO strings).
export interface InDoubtTx {
  id: string;
  label: string;
  status: string;
  decision: string | null;
  startedAt: string;
  stalledMs: number;
  cause: "phase2-dead-lettered" | "coordinator-lost" | "shard-unreachable" | "coordinator-stalled";
  why: string;
  shards: string[];
}

export interface OrphanPrepared {
  shard: string;
  gid: string;
  txId: string | null;
  preparedAt: string;
  resolution: string;
}

export interface HeuristicIncident {
  txId: string;
  at: string;
  shard: string | null;
  detail: { decision?: string; detail?: string } | null;
}

export interface InDoubtPayload {
  thresholdMs: number;
  transactions: InDoubtTx[];
  orphans: OrphanPrepared[];
  shardErrors: string[];
  incidents: HeuristicIncident[];
}

export interface ResolutionPayload {
  tx: {
    id: string;
    label: string;
    status: string;
    decision: string | null;
    coordinatorId: string | null;
    abortReason: string | null;
    branches: { shard: string; status: string; vote: boolean | null; attempts: number; lastError: string | null }[];
  };
  shards: { shard: string; gid: string; state: "prepared" | "absent" | "unreachable"; detail: string | null }[];
  actions: { action: "retry" | "force-abort" | "force-commit"; allowed: boolean; why: string }[];
}

export interface ActionResultPayload {
  outcome: "done" | "already";
  message: string;
  after: { status: string; decision: string | null };
}
