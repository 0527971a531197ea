// What the campaign (scripts/chaos.ts) and its child processes (scripts/chaosWorker.ts) say
// to each other: the worker's arguments (one JSON argument, so children never parse env),
// IPC messages, and the history lines each child appends to its own file.

/**
 * Where the kill nemesis can kill an engine (EngineHooks). "after-decision" is the hook after
 * the commit point, which for a one-phase commit is right after the shard's local COMMIT and
 * before its (lazy) log record; "one-phase-commit" is that same hook armed only for one-phase
 * transactions, so that point is killed at as often as the 2PC decision.
 */
export const KILL_POINTS = ["branch-work", "after-prepare", "after-decision", "one-phase-commit", "mid-phase2"] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

/** The engine option a deployment's gids, queues and keys are namespaced by (COHORT_NAMESPACE). */
export function namespaceOption(namespace: string): { namespace: string } {
  return { namespace };
}

export interface EngineWorkerArgs {
  role: "engine";
  name: string;
  deployment: string;
  namespace: string;
  databaseUrl: string;
  redisUrl: string;
  shards: { name: string; url: string }[];
  accounts: number;
  accountOffset: number;
  concurrency: number;
  /** Transfers per second started by this worker (0 = as fast as possible). */
  rate: number;
  /** Share of transfers between two accounts on one shard, publishing no event: one-phase commits. */
  sameShardShare: number;
  timeoutMs: number;
  /** Run an outbox relay in this process, as the demo does (server/main.ts). */
  relay: boolean;
  engine: {
    leaseMs: number;
    heartbeatMs: number;
    reconcileEveryMs: number;
    phase2MaxDelayMs: number;
    queueReclaimIdleMs: number;
  };
  historyFile: string;
  /** The worker exits by itself after this long (a guard against a lost parent). */
  maxLifetimeMs: number;
}

export interface ConsumerWorkerArgs {
  role: "consumer";
  name: string;
  namespace: string;
  redisUrl: string;
  historyFile: string;
  maxLifetimeMs: number;
}

/** Deployment A's console (Next.js + socket.io) for the operator nemesis, with no engine of its own. */
export interface ConsoleWorkerArgs {
  role: "console";
  name: string;
  namespace: string;
  /** Direct URLs, not through an engine's fault proxies: no fault is injected on the console. */
  databaseUrl: string;
  redisUrl: string;
  shards: { name: string; url: string }[];
  historyFile: string;
  maxLifetimeMs: number;
}

export type WorkerArgs = EngineWorkerArgs | ConsumerWorkerArgs | ConsoleWorkerArgs;

/** Parent → child. */
export type ToWorker = { cmd: "arm-kill"; at: KillPoint; occurrence: number } | { cmd: "quiesce" } | { cmd: "exit" };

/** Child → parent. */
export type FromWorker =
  | { ev: "ready"; instance?: string; url?: string }
  | { ev: "quiesced"; started: number; committed: number; aborted: number; errors: number };

/** One line of a history file. `t` is Date.now() of the writer. */
export type HistoryLine =
  | { t: number; p: string; ev: "start"; instance: string; pid: number }
  /**
   * A transfer began: its accounts and amount, the shards its legs go to, and whether it
   * publishes an event (one shard and no event: the engine commits it in one phase).
   */
  | {
      t: number;
      p: string;
      ev: "transfer";
      tx: string;
      from: number;
      to: number;
      amount: number;
      shards: string[];
      publish: boolean;
    }
  /** What commit() answered: its status, or the error it threw (code, or "non-cohort" with a message). */
  | { t: number; p: string; ev: "commit"; tx: string; status?: string; code?: string; msg?: string }
  /** The application aborted the transfer itself (no funds, fenced off): the log must say ABORTED. */
  | { t: number; p: string; ev: "app-abort"; tx: string; why: string }
  /** A leg's write accepted under a fencing token. */
  | { t: number; p: string; ev: "fenced"; tx: string; account: number; token: string }
  /** An outbox event seen by the consumer (before dedupe). */
  | { t: number; p: string; ev: "event"; id: string; tx: string; type: string };
