// A chaos campaign child process (scripts/chaos.ts), configured by one JSON argument:
//
// - role "engine": an engine instance running the bank workload (account locks, fenced writes,
//   outbox events) and, in deployment A, an outbox relay as the demo runs it. It appends every
//   commit() answer and every fenced write to its history file, and dies at a protocol step
//   when the parent arms a kill point (EngineHooks).
// - role "consumer": reads the outbox stream like an application would and appends every
//   delivered event (duplicates included: the checker dedupes by event id), next to the
//   demo's deduplicating transfer-totals consumer whose figures the checker also compares.
// - role "console": deployment A's console (the production Next.js build, socket.io) on a free
//   port, with no engine of its own: operator decisions are driven by A's live engines. It
//   reports its URL in "ready"; the operator nemesis talks to it over HTTP.
//
// Errors are not caught globally on purpose: a process that crashes on a fault is what the
// campaign looks for, and the parent reports its stderr.
import fs from "node:fs";
import { Redis } from "ioredis";
import { loadConfig } from "../server/config";
import { startConsole } from "../server/console/startConsole";
import { connectDatabase } from "../server/db/prisma";
import { createEngineStack } from "../server/engine/createEngine";
import type { EngineHooks } from "../server/engine/types";
import { outboxStream, startOutboxRelay } from "../server/queues/outboxRelay";
import { StreamQueue } from "../server/queues/streamQueue";
import { startTransferTotals } from "../server/sim/transferTotals";
import { startWorkload } from "../server/sim/workload";
import { PostgresShard } from "../server/participants/postgresShard";
import {
  namespaceOption,
  type ConsoleWorkerArgs,
  type ConsumerWorkerArgs,
  type EngineWorkerArgs,
  type FromWorker,
  type HistoryLine,
  type KillPoint,
  type ToWorker,
  type WorkerArgs,
} from "./chaos/protocol";

const args = JSON.parse(process.argv[2] ?? "{}") as WorkerArgs;
const history = fs.openSync(args.historyFile, "a");
// Synchronous appends: a SIGKILL loses at most the line being written, never a buffer.
type Entry = HistoryLine extends infer L ? (L extends HistoryLine ? Omit<L, "t" | "p"> : never) : never;
const record = (line: Entry) => fs.writeSync(history, `${JSON.stringify({ t: Date.now(), p: args.name, ...line })}\n`);
const send = (m: FromWorker) => process.send?.(m);

// The parent is gone (or cut the channel): nobody will stop us, so stop.
process.on("disconnect", () => process.exit(0));
setTimeout(() => process.exit(3), args.maxLifetimeMs).unref();

if (args.role === "engine") await runEngine(args);
else if (args.role === "console") await runConsole(args);
else await runConsumer(args);

async function runEngine(a: EngineWorkerArgs): Promise<void> {
  let armed: { at: KillPoint; left: number } | null = null;
  const step = (at: KillPoint) => {
    if (armed?.at !== at || --armed.left > 0) return;
    process.kill(process.pid, "SIGKILL");
  };
  /** Transfers in flight that the engine commits in one phase (one shard, no event). */
  const onePhase = new Set<string>();
  const hooks: EngineHooks = {
    afterBranchWork: () => step("branch-work"),
    afterPrepare: () => step("after-prepare"),
    // After a 2PC decision, or right after a one-phase transaction's local COMMIT (before its log record).
    afterDecision: (id) => {
      step("after-decision");
      if (onePhase.has(id)) step("one-phase-commit");
    },
    afterBranchResolved: (_id, _shard, commit) => (commit ? step("mid-phase2") : undefined),
  };
  const stack = createEngineStack({
    databaseUrl: a.databaseUrl,
    redisUrl: a.redisUrl,
    shards: a.shards,
    poolSize: 8,
    options: { ...a.engine, ...namespaceOption(a.namespace), defaultTimeoutMs: a.timeoutMs },
    hooks,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  await stack.engine.start();
  record({ ev: "start", instance: stack.engine.instanceId, pid: process.pid });
  if (a.relay) {
    const relay = startOutboxRelay({
      pool: stack.lazyDb.pool,
      redis: stack.redis,
      stream: outboxStream(a.namespace),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    stack.engine.onOutboxWritten(() => relay.nudge());
  }
  const answered = new Set<string>();
  const workload = startWorkload(stack.engine, {
    accounts: a.accounts,
    accountOffset: a.accountOffset,
    concurrency: a.concurrency,
    rate: a.rate,
    timeoutMs: a.timeoutMs,
    lockAccounts: true,
    publish: true,
    sameShardShare: a.sameShardShare,
    observers: {
      onBegin: (tx, plan) => {
        if (plan.shards.length === 1 && !plan.publish) onePhase.add(tx);
        record({ ev: "transfer", tx, ...plan });
      },
      onCommit: (tx, answer) => {
        answered.add(tx);
        onePhase.delete(tx);
        if ("status" in answer) return record({ ev: "commit", tx, status: answer.status });
        const err = answer.error;
        // By code, not class identity: errors may cross module copies.
        const code = err instanceof Error && err.name === "CohortError" && "code" in err ? String(err.code) : "non-cohort";
        record({ ev: "commit", tx, code, msg: String(err instanceof Error ? err.message : err).slice(0, 300) });
      },
      onFencedWrite: (tx, account, token) => record({ ev: "fenced", tx, account, token }),
    },
    onResult: (result) => {
      onePhase.delete(result.id);
      if (!answered.delete(result.id)) {
        record({ ev: "app-abort", tx: result.id, why: result.error?.code ?? result.outcome });
      }
    },
    onError: (message) => process.stdout.write(`workload: ${message}\n`),
  });
  process.on("message", (m: ToWorker) => {
    if (m.cmd === "arm-kill") armed = { at: m.at, left: m.occurrence };
    if (m.cmd === "quiesce") {
      void workload.stop().then(() => {
        const s = workload.stats;
        send({ ev: "quiesced", started: s.started, committed: s.committed, aborted: s.aborted, errors: s.errors });
      });
    }
    if (m.cmd === "exit") void stack.close().finally(() => process.exit(0));
  });
  send({ ev: "ready", instance: stack.engine.instanceId });
}

async function runConsumer(a: ConsumerWorkerArgs): Promise<void> {
  const redis = new Redis(a.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on("error", () => undefined);
  const totals = await startTransferTotals({ redis, namespace: a.namespace, consumer: a.name, reclaimIdleMs: 8_000 });
  const recorder = new StreamQueue({
    redis,
    stream: outboxStream(a.namespace),
    group: "chaos-history",
    consumer: a.name,
    maxDeliveries: 10,
    baseDelayMs: 100,
    maxDelayMs: 2_000,
    reclaimIdleMs: 5_000,
    deleteOnAck: false,
    batch: 256,
  });
  await recorder.start(async (entry) => {
    record({ ev: "event", id: entry.fields.id ?? "", tx: entry.fields.tx ?? "", type: entry.fields.type ?? "" });
  });
  process.on("message", (m: ToWorker) => {
    if (m.cmd === "quiesce") send({ ev: "quiesced", started: 0, committed: 0, aborted: 0, errors: 0 });
    if (m.cmd === "exit") {
      void Promise.all([totals.stop(), recorder.stop()]).finally(() => {
        redis.disconnect();
        process.exit(0);
      });
    }
  });
  send({ ev: "ready" });
}

async function runConsole(a: ConsoleWorkerArgs): Promise<void> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const db = connectDatabase(a.databaseUrl, { poolSize: 4, applicationName: "chaos-console" });
  const redis = new Redis(a.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on("error", () => undefined);
  const shards = a.shards.map((s) => new PostgresShard({ ...s, namespace: a.namespace, poolSize: 2 }));
  const started = Date.now();
  const handle = await startConsole({
    runtime: {
      config: loadConfig(),
      prisma: db.prisma,
      pool: db.pool,
      redis,
      shardNames: shards.map((s) => s.name),
      shards,
      engine: null,
      locks: null,
      queues: { namespace: a.namespace, reclaimIdleMs: 5_000, rabbit: null },
    },
    host: "127.0.0.1",
    port: 0,
    dev: false,
    log,
  });
  log(`console started in ${Date.now() - started} ms`);
  process.on("message", (m: ToWorker) => {
    if (m.cmd === "quiesce") send({ ev: "quiesced", started: 0, committed: 0, aborted: 0, errors: 0 });
    if (m.cmd === "exit") {
      void handle
        .close()
        .then(() => Promise.all(shards.map((s) => s.close())))
        .then(() => db.close())
        .finally(() => {
          redis.disconnect();
          process.exit(0);
        });
    }
  });
  send({ ev: "ready", url: handle.url });
}
