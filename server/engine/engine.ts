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
import type { PostgresShard } from "../participants/postgresShard";
import { CoordinatorLog, type TxStatus } from "./coordinatorLog";
import { encodePhase2, PHASE2_GROUP, phase2Stream } from "../queues/phase2Entries";
import { enqueueAll, StreamQueue } from "../queues/streamQueue";
import { PhaseTwo } from "./phaseTwo";
import { Recovery, type ReconcileReport } from "./recovery";
import { Transaction } from "./transaction";
import { systemClock, type BeginOptions, type Clock, type EngineHooks, type EngineOptions } from "./types";

export interface EngineDeps {
  /** Typed reads, leases, shards. Shares `pool`. */
  prisma: PrismaClient;
  /** Synchronous commit: the forced COMMIT decision. */
  pool: pg.Pool;
  /** synchronous_commit=off: records presumed abort allows to lose. */
  lazyPool: pg.Pool;
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
  queueNamespace: "cohort",
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
  private loopRunning: Promise<void> | null = null;
  private lastReconcile = 0;
  private readonly print: (line: string) => void;
  private readonly events: TxEventBuffer;
  private deadlocks: DeadlockDetector | null = null;

  constructor(private readonly deps: EngineDeps) {
    this.options = { ...defaultEngineOptions, ...deps.options };
    this.actor = `engine:${this.instanceId}`;
    this.clock = deps.clock ?? systemClock;
    this.hooks = deps.hooks ?? {};
    this.print = deps.log ?? (() => undefined);
    this.shardsByName = new Map(deps.shards.map((s) => [s.name, s]));
    this.events = new TxEventBuffer(deps.redis);
    this.coordinatorLog = new CoordinatorLog(deps.pool, deps.lazyPool, deps.prisma);
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
      stream: phase2Stream(this.options.queueNamespace),
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

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Registers the instance, recovers what dead instances left, and starts the lease loop. */
  async start(): Promise<{ recovered: number; reconciled: ReconcileReport[] }> {
    if (this.state !== "new") throw new Error("an Engine can be started once");
    const { prisma } = this.deps;
    await Promise.all(this.deps.shards.map((s) => s.checkReady()));
    await prisma.$executeRaw`
      INSERT INTO engine_instances (id, host, pid, lease_expires_at)
      VALUES (${this.instanceId}::uuid, ${this.options.host}, ${this.options.pid},
        now() + make_interval(secs => ${this.options.leaseMs / 1000}))`;
    for (const name of this.shardNames) {
      await prisma.shard.upsert({ where: { name }, create: { name }, update: {} });
    }
    this.state = "running";
    void publishEvent(this.deps.redis, {
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
    const timeoutMs = opts.timeoutMs ?? this.options.defaultTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new CohortError("BAD_REQUEST", "timeoutMs must be a positive number");
    const id = uuidv7();
    const startedAt = this.clock.now();
    const deadline = startedAt + timeoutMs;
    await this.coordinatorLog.begin({
      id,
      label,
      coordinatorId: this.instanceId,
      deadlineAt: new Date(deadline),
      actor: this.actor,
    });
    const tx = new Transaction(
      {
        instanceId: this.instanceId,
        actor: this.actor,
        log: this.coordinatorLog,
        clock: this.clock,
        hooks: this.hooks,
        shard: (n) => this.shardsByName.get(n),
        shardNames: () => this.shardNames,
        published: (i, s, l) => this.publish(i, s, l),
        drivePhase2: (i, l, commit, shards) => this.phaseTwo.drive(i, l, commit, shards, this.actor, { fresh: true }),
        released: (t) => this.inFlight.delete(t.id),
        locks: this.deps.locks ?? null,
        lockGraceMs: this.options.lockGraceMs,
        releaseLocks: (txId) => this.releaseLocks(txId),
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

  /** Compares every shard's prepared transactions with the log; see Recovery.reconcileShard. */
  async reconcile(): Promise<ReconcileReport[]> {
    this.lastReconcile = this.clock.now();
    const reports: ReconcileReport[] = [];
    for (const shard of this.deps.shards) {
      try {
        reports.push(await this.recovery.reconcileShard(shard));
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
      return;
    }
    this.state = "stopping";
    if (this.loopTimer) clearTimeout(this.loopTimer);
    await this.deadlocks?.stop();
    await this.loopRunning;
    const until = Date.now() + (opts.drainMs ?? 5_000);
    while (this.inFlight.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(
      [...this.inFlight.values()].map((tx) =>
        tx.status === "active" ? tx.abort("engine stopping").catch(() => undefined) : undefined,
      ),
    );
    await this.phase2Queue.stop();
    await this.events.flush();
    await this.deps.prisma.$executeRaw`
      UPDATE engine_instances SET stopped_at = now(), lease_expires_at = now() WHERE id = ${this.instanceId}::uuid`.catch(
      () => undefined,
    );
    void publishEvent(this.deps.redis, {
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
    const rows = await this.deps.prisma.$queryRaw<{ ms: number | null }[]>`
      SELECT (EXTRACT(EPOCH FROM (min(i.lease_expires_at) - now())) * 1000)::float8 AS ms
      FROM engine_instances i
      WHERE i.id <> ${this.instanceId}::uuid AND i.stopped_at IS NULL AND i.lease_expires_at > now()
        AND EXISTS (SELECT 1 FROM transactions t WHERE t.coordinator_id = i.id AND t.ended_at IS NULL)`;
    const ms = rows[0]?.ms;
    return ms == null ? this.options.heartbeatMs : Math.max(10, Math.min(this.options.heartbeatMs, Math.ceil(ms) + 20));
  }

  /** Heartbeat, then take over what dead instances left, then (now and then) reconcile. */
  private async tick(): Promise<number> {
    try {
      await this.deps.prisma.$executeRaw`
        UPDATE engine_instances SET heartbeat_at = now(),
          lease_expires_at = now() + make_interval(secs => ${this.options.leaseMs / 1000})
        WHERE id = ${this.instanceId}::uuid`;
      const recovered = await this.recovery.recoverAll();
      if (recovered > 0) {
        this.print(`took over and finished ${recovered} transaction(s) of dead instances`);
        void publishEvent(this.deps.redis, {
          v: 1,
          type: "engine.instance",
          id: this.instanceId,
          state: "takeover",
          at: Date.now(),
        }).catch(() => undefined);
      }
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
