// The ring as one process runs it: the hasher, the live router, and the rebalance
// executors this process drives. Route handlers reach it through globalThis (like
// server/runtime.ts), because Next.js bundles them apart from server/main.ts.
//
// Executors run here, in the process that started or resumed a run, on this process's
// engine. A run whose executor died (its process crashed) is taken over by the watchdog
// of any live process once the dead executor's lease has lapsed.
import type { Redis } from "ioredis";
import type { PrismaClient } from "../db/prisma";
import type { Engine } from "../engine/engine";
import { isCohortError, errorMessage } from "../errors";
import type { PostgresShard } from "../participants/postgresShard";
import type { AccountRouter } from "./accountRouter";
import type { Hasher } from "./hashRing";
import { accountMover } from "./moveAccount";
import { runRebalance, type RebalanceOutcome, type RunRebalanceOptions } from "./rebalanceRunner";
import { unfinishedRun } from "./rebalanceStore";

export interface RingServiceDeps {
  prisma: PrismaClient;
  redis: Redis;
  hasher: Hasher;
  engine: Engine;
  /** The engine's shards (control connections): where accounts are paged from. */
  shards: PostgresShard[];
  router: AccountRouter;
  log: (line: string) => void;
  /** Executor tuning (tests use short leases). */
  executor?: Partial<Pick<RunRebalanceOptions, "leaseMs" | "pageSize" | "maxAttempts" | "progressEveryMs">>;
  /** How often to look for a RUNNING run nobody executes; 0 turns the watchdog off. */
  watchdogMs?: number;
}

interface Execution {
  controller: AbortController;
  done: Promise<RebalanceOutcome | null>;
}

export class RingService {
  private readonly executions = new Map<string, Execution>();
  private watchdog: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(readonly deps: RingServiceDeps) {
    const every = deps.watchdogMs ?? 5_000;
    if (every > 0) {
      this.watchdog = setInterval(() => void this.adoptOrphanedRun(), every);
      this.watchdog.unref();
    }
  }

  /** The deployment namespace (the engine's): ring events go to its events stream. */
  get namespace(): string {
    return this.deps.engine.options.namespace;
  }

  get router(): AccountRouter {
    return this.deps.router;
  }

  get hasher(): Hasher {
    return this.deps.hasher;
  }

  /** Shards this process can move keys to: a ring may only name these. */
  get knownShards(): string[] {
    return this.deps.engine.shardNames;
  }

  /** Whether this process is executing the run now. */
  isExecuting(runId: string): boolean {
    return this.executions.has(runId);
  }

  /**
   * Starts executing a RUNNING run in the background (no-op if this process already is).
   * Resolves with its outcome, or null when another live executor holds it.
   */
  execute(runId: string): Promise<RebalanceOutcome | null> {
    const existing = this.executions.get(runId);
    if (existing) return existing.done;
    if (this.stopped) return Promise.resolve(null);
    const controller = new AbortController();
    const { engine, shards, prisma, redis, hasher, router, log } = this.deps;
    const done = runRebalance({
      prisma,
      redis,
      namespace: this.namespace,
      hasher,
      runId,
      ...accountMover({ engine, shards }),
      executorId: `rebalance:${engine.instanceId}`,
      ...this.deps.executor,
      signal: controller.signal,
      // Our own router follows our own moves at once, ahead of the (throttled) events.
      onProgress: (p) => router.advance(p),
      log,
    })
      .catch((err: unknown) => {
        if (isCohortError(err, "RING_CONFLICT")) return null; // a live executor elsewhere has it
        log(`[ring] rebalance ${runId} stopped on an error: ${errorMessage(err)}`);
        return null;
      })
      .finally(() => this.executions.delete(runId));
    this.executions.set(runId, { controller, done });
    log(`[ring] executing rebalance ${runId}`);
    return done;
  }

  /** Takes up the unfinished RUNNING run, if any and if no live executor holds it. */
  async adoptOrphanedRun(): Promise<void> {
    if (this.stopped) return;
    try {
      const run = await unfinishedRun(this.deps.prisma);
      if (!run || run.status !== "RUNNING" || this.executions.has(run.id)) return;
      const held = run.ownerId !== null && run.leaseExpiresAt !== null && run.leaseExpiresAt.getTime() > Date.now();
      if (!held) void this.execute(run.id);
    } catch (err) {
      this.deps.log(`[ring] looking for an orphaned rebalance failed: ${errorMessage(err)}`);
    }
  }

  /** Shutdown: executors record their cursor and let go (the run stays RUNNING for whoever starts next). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    const running = [...this.executions.values()];
    for (const e of running) e.controller.abort();
    await Promise.all(running.map((e) => e.done));
    await this.deps.router.stop();
  }
}

const KEY = Symbol.for("cohort.ring");
type Holder = { [KEY]?: RingService };

export function setRingService(service: RingService | null): void {
  if (service) (globalThis as Holder)[KEY] = service;
  else delete (globalThis as Holder)[KEY];
}

/** The process's ring service, or null in a process that did not start one. */
export function findRingService(): RingService | null {
  return (globalThis as Holder)[KEY] ?? null;
}
