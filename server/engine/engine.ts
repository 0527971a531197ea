// The coordinator. One Engine is one instance: it holds a lease in engine_instances,
// runs the transactions it began, and takes over the unfinished work of instances whose
// lease ran out. It receives every dependency and never reads the environment.
import os from "node:os";
import type { Redis } from "ioredis";
import type pg from "pg";
import { v7 as uuidv7 } from "uuid";
import type { PrismaClient } from "../db/prisma";
import { CohortError, errorMessage } from "../errors";
import { TxEventBuffer } from "../live/eventBuffer";
import { publishEvent } from "../live/events";
import { startDeadlockDetector, type DeadlockDetector } from "../locks/deadlockDetector";
import type { LockService } from "../locks/lockService";
import { DEFAULT_NAMESPACE } from "../participants/gid";
import type { PostgresShard } from "../participants/postgresShard";
import { CoordinatorLog, type TxStatus } from "./log/coordinatorLog";
import { DeadInstanceLocks } from "./deadInstanceLocks";
import { nextLeaseLapseMs, registerInstance, renewLease, stopInstance } from "./log/leases";
import { assertOneNamespace, DeploymentGuard } from "./deploymentGuard";
import { encodePhase2, PHASE2_GROUP, phase2Stream } from "../queues/phase2Entries";
import { enqueueAll, StreamQueue } from "../queues/streamQueue";
import { PhaseTwo } from "./phaseTwo";
import { Recovery, type ReconcileReport } from "./recovery";
import { assertStorableText } from "../db/storableText";
import { Transaction } from "./transaction";
import { systemClock, type BeginOptions, type Clock, type EngineHooks, type EngineOptions } from "./types";

export interface EngineDeps {
  /** Typed reads, leases, shards. Shares `pool`. */
  prisma: PrismaClient;
  /** Synchronous commit: the forced COMMIT decision. */
  pool: pg.Pool;
  /** synchronous_commit=off: records presumed abort allows to lose. */
  lazyPool: pg.Pool;
  /**
   * The lease heartbeat's own connection (a pool of one, with timeouts shorter than the
   * lease), so that it never waits behind other work for a connection. Defaults to `pool`.
   */
  heartbeatPool?: pg.Pool;
  redis: Redis;
  shards: PostgresShard[];
  /** Distributed locks for `tx.lock()`; without it the engine runs without locking. */
  locks?: LockService;
  clock?: Clock;
  hooks?: EngineHooks;
  options?: Partial<EngineOptions>;
  log?: (line: string) => void;
}

export const defaultEngineOptions: EngineOptions = {
  leaseMs: 3_000,
  heartbeatMs: 1_000,
  defaultTimeoutMs: 30_000,
  phase2BaseDelayMs: 100,
  phase2MaxDelayMs: 10_000,
  recoveryConcurrency: 128,
  lockGraceMs: 30_000,
  deadlockCheckMs: 500,
  reconcileEveryMs: 15_000,
  phase2MaxDeliveries: 20,
  queueReclaimIdleMs: 30_000,
  namespace: DEFAULT_NAMESPACE,
  consumePhase2Queue: true,
  host: os.hostname(),
  pid: process.pid,
};

export class Engine {
  readonly instanceId = uuidv7();
  readonly options: EngineOptions;
  private readonly actor: string;
  private readonly clock: Clock;
  private readonly hooks: EngineHooks;
  private readonly coordinatorLog: CoordinatorLog;
  private readonly phaseTwo: PhaseTwo;
  private readonly recovery: Recovery;
  private readonly shardsByName: Map<string, PostgresShard>;
  /** Transactions this instance began and has not finished with, by id. */
  private readonly inFlight = new Map<string, Transaction>();
  private readonly phase2Queue: StreamQueue;
  private readonly outboxListeners = new Set<() => void>();
  private state: "new" | "running" | "stopping" | "stopped" = "new";
  private loopTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatRunning: Promise<void> | null = null;
  /** The instance row exists and its lease is renewed; false once stopped or crashed. */
  private beating = false;
  private loopRunning: Promise<void> | null = null;
  private lastReconcile = 0;
  private readonly print: (line: string) => void;
  private readonly events: TxEventBuffer;
  private deadlocks: DeadlockDetector | null = null;
  private readonly guard: DeploymentGuard;
  /** What commits cost on their critical path, for the benchmark (plain counters: no cost to keep). */
  private readonly commitCosts = { commits: 0, criticalSteps: 0 };
  /** Releases the locks dead instances left that no logged transaction needs. */
  private readonly deadInstanceLocks: DeadInstanceLocks | null;

  constructor(private readonly deps: EngineDeps) {
    this.options = { ...defaultEngineOptions, ...deps.options };
    this.actor = `engine:${this.instanceId}`;
    this.clock = deps.clock ?? systemClock;
    this.hooks = deps.hooks ?? {};
    this.print = deps.log ?? (() => undefined);
    this.shardsByName = new Map(deps.shards.map((s) => [s.name, s]));
    this.events = new TxEventBuffer(deps.redis, this.options.namespace);
    this.guard = new DeploymentGuard({ pool: deps.pool, redis: deps.redis, namespace: this.options.namespace });
    assertOneNamespace(this.options.namespace, deps.shards, deps.locks);
    this.coordinatorLog = new CoordinatorLog(deps.pool, deps.lazyPool, deps.prisma);
    this.deadInstanceLocks = deps.locks ? new DeadInstanceLocks({ db: deps.pool, locks: deps.locks, log: this.print }) : null;
    this.phaseTwo = new PhaseTwo({
      instanceId: this.instanceId,
      log: this.coordinatorLog,
      clock: this.clock,
      hooks: this.hooks,
      shard: (n) => this.shardsByName.get(n),
      published: (id, status, label) => this.publish(id, status, label),
      ended: (txId) => this.releaseLocks(txId),
      baseDelayMs: this.options.phase2BaseDelayMs,
      maxDelayMs: this.options.phase2MaxDelayMs,
      enqueue: (txId, label, commit, shards) => this.enqueuePhase2(txId, label, commit, shards),
      onError: (m) => this.print(m),
    });
    const markDeadLettered = async (fields: Record<string, string>, error: string) => {
      if (!fields.tx || !fields.shard) return;
      await this.coordinatorLog.markQueued({
        txId: fields.tx,
        shards: [fields.shard],
        deadLettered: true,
        detail: { error, deliveries: Number(fields._deliveries ?? 0), by: fields._by ?? "queue" },
        actor: this.actor,
      });
      this.publish(fields.tx, fields.decision === "COMMIT" ? "COMMITTING" : "ABORTING", fields.label ?? "");
    };
    this.phase2Queue = new StreamQueue({
      redis: deps.redis,
      stream: phase2Stream(this.options.namespace),
      group: PHASE2_GROUP,
      consumer: this.instanceId,
      maxDeliveries: this.options.phase2MaxDeliveries,
      baseDelayMs: this.options.phase2BaseDelayMs,
      maxDelayMs: this.options.phase2MaxDelayMs,
      reclaimIdleMs: this.options.queueReclaimIdleMs,
      deleteOnAck: true,
      log: this.print,
      // A logged decision is delivered whatever it takes: past the limit the branch is marked
      // dead-lettered (an alert for the console) and delivery goes on every phase2MaxDelayMs;
      // the mark is cleared when it succeeds (resolveBranch).
      keepDelivering: true,
      onDeliveryLimit: (entry, error) =>
        markDeadLettered({ ...entry.fields, _deliveries: String(entry.deliveries), _by: "queue" }, error),
      onDeadLetter: markDeadLettered,
    });
    this.recovery = new Recovery({
      instanceId: this.instanceId,
      actor: `recovery:${this.instanceId}`,
      prisma: deps.prisma,
      log: this.coordinatorLog,
      phaseTwo: this.phaseTwo,
      shards: deps.shards,
      concurrency: this.options.recoveryConcurrency,
      queuedGraceMs: this.options.queueReclaimIdleMs,
      hooks: this.hooks,
      published: (id, status, label) => this.publish(id, status, label),
      ended: (txId) => this.releaseLocks(txId),
    });
  }

  /** Calls `listener` whenever a transaction of this instance committed outbox events (a relay's wake-up). */
  onOutboxWritten(listener: () => void): () => void {
    this.outboxListeners.add(listener);
    return () => this.outboxListeners.delete(listener);
  }

  get shardNames(): string[] {
    return [...this.shardsByName.keys()];
  }

  /**
   * Commits finished by this instance and the sequential waits on their critical path (log
   * writes and shard round trips; statements sent to several shards at once count once).
   */
  costs(): { commits: number; criticalSteps: number } {
    return { ...this.commitCosts };
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Registers the instance, recovers what dead instances left, and starts the lease loop. */
  async start(): Promise<{ recovered: number; reconciled: ReconcileReport[] }> {
    if (this.state !== "new") throw new Error("an Engine can be started once");
    const { prisma } = this.deps;
    // A shard that cannot be reached must not keep this instance from finishing what it can
    // on the others (a crashed coordinator coming back during a shard outage): phase two
    // and reconciliation retry it. A reachable shard that cannot prepare is a setup error.
    const unreachable = await Promise.all(
      this.deps.shards.map(async (s) => {
        try {
          await s.checkReady();
          return null;
        } catch (err) {
          if (
            await s.ping().then(
              () => true,
              () => false,
            )
          )
            throw err;
          return `${s.name} (${errorMessage(err)})`;
        }
      }),
    );
    for (const down of unreachable.filter(Boolean)) this.print(`starting without shard ${down}: it is retried until it answers`);
    // One-phase commits write their evidence there (reconcile creates it later on a shard down now).
    await Promise.all(this.deps.shards.map((s) => s.ensureOnePhaseTable().catch(() => undefined)));
    // Before anything is resolved: a namespace another coordinator database owns refuses the start.
    const { unclaimed } = await this.guard.claimAll(this.deps.shards);
    for (const u of unclaimed)
      this.print(`shard ${u.shard}: namespace not claimed yet (${u.error}); it will be before its first reconciliation`);
    await registerInstance(prisma, {
      id: this.instanceId,
      host: this.options.host,
      pid: this.options.pid,
      leaseMs: this.options.leaseMs,
    });
    // From here on the lease is ours to keep, even while recovery and reconciliation below
    // wait on a shard that does not answer.
    this.beating = true;
    this.scheduleHeartbeat();
    try {
      return await this.startWork();
    } catch (err) {
      // A start that failed half-way leaves no heartbeat behind: peers take over at once.
      this.state = "stopped";
      this.beating = false;
      if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
      if (this.loopTimer) clearTimeout(this.loopTimer);
      await this.phase2Queue.stop().catch(() => undefined);
      await this.deadlocks?.stop().catch(() => undefined);
      await stopInstance(prisma, this.instanceId).catch(() => undefined);
      throw err;
    }
  }

  private async startWork(): Promise<{ recovered: number; reconciled: ReconcileReport[] }> {
    const { prisma } = this.deps;
    // ON CONFLICT, not Prisma's upsert (a read, then an insert): engines starting together
    // raced on it and the loser died on shards_pkey.
    await prisma.$executeRaw`INSERT INTO shards (name) SELECT unnest(${this.shardNames}::text[]) ON CONFLICT (name) DO NOTHING`;
    this.state = "running";
    void publishEvent(this.deps.redis, this.options.namespace, {
      v: 1,
      type: "engine.instance",
      id: this.instanceId,
      state: "started",
      at: Date.now(),
    }).catch(() => undefined);
    if (this.options.consumePhase2Queue) await this.phase2Queue.start((entry) => this.phaseTwo.deliver(entry, this.actor));
    const recovered = await this.recovery.recoverAll();
    const reconciled = await this.reconcile();
    if (this.deps.locks) {
      this.deadlocks = startDeadlockDetector({
        lockService: this.deps.locks,
        intervalMs: this.options.deadlockCheckMs,
        onVictim: (victim, cycle) =>
          this.coordinatorLog.append({
            txId: victim,
            type: "deadlock.victim",
            actor: this.actor,
            data: {
              reason: "youngest transaction in a wait-for cycle",
              cycle: cycle.map((e) => ({ waiter: e.waiter, holder: e.holder, key: e.key })),
            },
          }),
        log: this.print,
      });
    }
    this.scheduleLoop(await this.nextTickDelay());
    return { recovered, reconciled };
  }

  async begin(opts: BeginOptions): Promise<Transaction> {
    if (this.state !== "running") {
      throw new CohortError("ENGINE_STOPPED", `engine instance ${this.instanceId} is ${this.state}: no new transactions`);
    }
    const label = opts.label.trim();
    if (!label || label.length > 200) throw new CohortError("BAD_REQUEST", "a transaction label must be 1-200 characters");
    assertStorableText("the transaction label", label);
    const timeoutMs = opts.timeoutMs ?? this.options.defaultTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new CohortError("BAD_REQUEST", "timeoutMs must be a positive number");
    const id = uuidv7();
    const startedAt = this.clock.now();
    const deadline = startedAt + timeoutMs;
    // Nothing is logged yet: the first record is written just before the first PREPARE.
    const tx = new Transaction(
      {
        instanceId: this.instanceId,
        namespace: this.options.namespace,
        actor: this.actor,
        log: this.coordinatorLog,
        clock: this.clock,
        hooks: this.hooks,
        shard: (n) => this.shardsByName.get(n),
        shardNames: () => this.shardNames,
        published: (i, s, l) => this.publish(i, s, l),
        drivePhase2: (i, l, commit, shards, opts) =>
          this.phaseTwo.drive(i, l, commit, shards, this.actor, { fresh: opts?.fresh ?? true }),
        released: (t) => this.inFlight.delete(t.id),
        locks: this.deps.locks ?? null,
        lockGraceMs: this.options.lockGraceMs,
        releaseLocks: (txId) => this.releaseLocks(txId),
        costs: this.commitCosts,
        outboxWritten: () => {
          for (const listener of this.outboxListeners) listener();
        },
      },
      { id, label, startedAt, deadline },
    );
    this.inFlight.set(id, tx);
    this.publish(id, "ACTIVE", label);
    if (this.hooks.afterBegin) await this.hooks.afterBegin(id);
    return tx;
  }

  /**
   * Takes a transaction over now and drives it by the log (operator "retry now" and the
   * follow-up of forced decisions). Resolves after the first phase-two attempt with the
   * shards still pending, or null when the transaction is finished or owned by a live
   * instance and undecided.
   */
  async adopt(txId: string, requestedBy: string): Promise<{ pending: string[] } | null> {
    if (this.state !== "running") throw new CohortError("ENGINE_STOPPED", `engine instance ${this.instanceId} is ${this.state}`);
    const claimed = await this.recovery.claimOne(txId, requestedBy);
    if (!claimed) return null;
    // claimOne bumps updated_at, so the stale sweep leaves it alone while this runs.
    return { pending: await this.recovery.finish(claimed) };
  }

  /**
   * What the coordinator log says of a transaction: the answer to OUTCOME_PENDING. `decision`
   * is final once set; `status` is COMMITTED or ABORTED once phase two reached every branch.
   * Null when the log has no record (presumed abort: it never committed).
   */
  async outcome(txId: string): Promise<{ id: string; status: TxStatus; decision: "COMMIT" | "ABORT" | null } | null> {
    const row = await this.coordinatorLog.read(txId);
    if (row && !(row.onePhase && row.decision === null)) return { id: row.id, status: row.status, decision: row.decision };
    // No record, or a one-phase commit in doubt: a one-phase commit's evidence on its shard
    // is its commit point, and its record may not have reached the log (DESIGN.md §2).
    const asked = await Promise.allSettled(this.deps.shards.map((s) => s.onePhaseCommitted([txId])));
    if (asked.some((a) => a.status === "fulfilled" && a.value.length > 0))
      return { id: txId, status: "COMMITTED", decision: "COMMIT" };
    const unreachable = this.deps.shards.filter((_, i) => asked[i]!.status === "rejected").map((s) => s.name);
    // Evidence is deleted only once the log has the record: read the log again after it.
    const again = await this.coordinatorLog.read(txId);
    if (again && !(again.onePhase && again.decision === null))
      return { id: again.id, status: again.status, decision: again.decision };
    if (unreachable.length > 0) {
      throw new CohortError(
        "OUTCOME_PENDING",
        `the outcome of transaction ${txId} is not known yet: shard ${unreachable.join(", ")} cannot be asked whether it committed there in one phase`,
        { details: { id: txId } },
      );
    }
    return again && { id: again.id, status: again.status, decision: again.decision };
  }

  /** Compares every shard's prepared transactions with the log; see Recovery.reconcileShard. */
  async reconcile(): Promise<ReconcileReport[]> {
    this.lastReconcile = this.clock.now();
    const reports: ReconcileReport[] = [];
    await this.guard.reassertRedis().catch((err: unknown) => this.print(`deployment guard: ${errorMessage(err)}`));
    for (const shard of this.deps.shards) {
      try {
        // A shard unreachable at start is claimed before its prepared transactions are judged.
        await this.guard.ensureShard(shard);
        reports.push(await this.recovery.reconcileShard(shard));
        await this.recovery.sweepOnePhaseEvidence(shard);
        await this.deps.prisma.shard
          .update({ where: { name: shard.name }, data: { lastSeenAt: new Date(), lastError: null } })
          .catch(() => undefined);
      } catch (err) {
        const message = errorMessage(err);
        reports.push({ shard: shard.name, committed: 0, rolledBack: 0, leftInFlight: 0, errors: [message] });
        await this.deps.prisma.shard.update({ where: { name: shard.name }, data: { lastError: message } }).catch(() => undefined);
      }
    }
    return reports;
  }

  /**
   * Stops taking new work, waits up to `drainMs` for transactions in flight, then gives up
   * the lease so another instance can take over whatever is left at once.
   */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    if (this.state === "stopped" || this.state === "new") {
      this.state = "stopped";
      this.beating = false;
      if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
      return;
    }
    this.state = "stopping";
    if (this.loopTimer) clearTimeout(this.loopTimer);
    await this.deadlocks?.stop();
    await this.loopRunning;
    // The lease is kept (heartbeats go on) while in-flight work drains; given up below.
    const until = Date.now() + (opts.drainMs ?? 5_000);
    while (this.inFlight.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(
      [...this.inFlight.values()].map((tx) =>
        tx.status === "active" ? tx.abort("engine stopping").catch(() => undefined) : undefined,
      ),
    );
    await this.phase2Queue.stop();
    await this.events.flush();
    this.beating = false;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    await this.heartbeatRunning;
    await stopInstance(this.deps.prisma, this.instanceId).catch(() => undefined);
    void publishEvent(this.deps.redis, this.options.namespace, {
      v: 1,
      type: "engine.instance",
      id: this.instanceId,
      state: "stopped",
      at: Date.now(),
    }).catch(() => undefined);
    this.state = "stopped";
  }

  /**
   * For tests: stop heartbeating and driving work without giving up the lease, as a
   * SIGKILLed process would. Hooks that were made to hang stay hung.
   */
  simulateCrash(): void {
    this.state = "stopped";
    if (this.loopTimer) clearTimeout(this.loopTimer);
    this.beating = false;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    void this.deadlocks?.stop();
    // Stops reading; what it had read stays pending under this consumer, for others to reclaim.
    void this.phase2Queue.stop();
  }

  private scheduleLoop(delayMs = this.options.heartbeatMs): void {
    if (this.state !== "running") return;
    this.loopTimer = setTimeout(() => {
      this.loopRunning = this.tick().then(
        (next) => {
          this.loopRunning = null;
          this.scheduleLoop(next);
        },
        () => {
          this.loopRunning = null;
          this.scheduleLoop();
        },
      );
    }, delayMs);
    this.loopTimer.unref();
  }

  /**
   * When another instance that still owns unfinished work has a lease running out before
   * our next heartbeat, wake up just after it lapses: a dead instance's transactions hold
   * row locks on the shards, so every millisecond of takeover delay is blocked work.
   */
  private async nextTickDelay(): Promise<number> {
    const ms = await nextLeaseLapseMs(this.deps.prisma, this.instanceId);
    return ms == null ? this.options.heartbeatMs : Math.max(10, Math.min(this.options.heartbeatMs, Math.ceil(ms) + 20));
  }

  /**
   * Renews the lease on its own timer and connection. It used to share one loop with
   * takeover, the stale sweep and reconciliation: a shard that stopped answering held the
   * loop, the lease lapsed, and live peers aborted this instance's transactions.
   */
  private scheduleHeartbeat(): void {
    if (!this.beating) return;
    const every = this.options.heartbeatMs;
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatRunning = this.heartbeat()
        .catch((err: unknown) => this.print(`heartbeat: ${errorMessage(err)}`))
        .finally(() => {
          this.heartbeatRunning = null;
          this.scheduleHeartbeat();
        });
    }, every);
    this.heartbeatTimer.unref();
  }

  private async heartbeat(): Promise<void> {
    await renewLease(this.deps.heartbeatPool ?? this.deps.pool, this.instanceId, this.options.leaseMs);
  }

  /** Take over what dead instances left, then (now and then) sweep and reconcile. */
  private async tick(): Promise<number> {
    try {
      const recovered = await this.recovery.recoverAll();
      if (recovered > 0) {
        this.print(`took over and finished ${recovered} transaction(s) of dead instances`);
        void publishEvent(this.deps.redis, this.options.namespace, {
          v: 1,
          type: "engine.instance",
          id: this.instanceId,
          state: "takeover",
          at: Date.now(),
        }).catch(() => undefined);
      }
      await this.deadInstanceLocks?.sweep();
      if (this.clock.now() - this.lastReconcile >= this.options.reconcileEveryMs) {
        await this.recovery.recoverStale(this.inFlight, this.options.leaseMs);
        await this.reconcile();
      }
      return await this.nextTickDelay();
    } catch (err) {
      this.print(`engine loop: ${errorMessage(err)}`);
      return this.options.heartbeatMs;
    }
  }

  /**
   * Lets go of a finished transaction's locks. A transaction this process began knows its
   * grants; one finished after a takeover is found through the lock index.
   */
  private releaseLocks(txId: string): void {
    const locks = this.deps.locks;
    if (!locks) return;
    void locks
      .releaseAllOf(txId, { searchIndex: !this.inFlight.has(txId) })
      .catch((err: unknown) => this.print(`releasing locks of ${txId}: ${errorMessage(err)}`));
  }

  private publish(id: string, status: TxStatus, label: string): void {
    this.events.push({ v: 1, type: "tx.updated", id, status, label, at: Date.now() });
  }

  private async enqueuePhase2(txId: string, label: string, commit: boolean, shards: string[]): Promise<void> {
    const decision = commit ? "COMMIT" : "ABORT";
    const stream = this.phase2Queue.keys.stream;
    const ids = await enqueueAll(
      this.deps.redis,
      stream,
      shards.map((shard) => encodePhase2({ tx: txId, shard, decision, label })),
    );
    await this.coordinatorLog.markQueued({
      txId,
      shards,
      deadLettered: false,
      detail: { stream, decision, ids },
      actor: this.actor,
    });
  }
}
