// One run's system under test, built fresh for every run so a violation is charged to the
// nemesis that caused it:
//
// - deployment A: a coordinator database, `engines` engine processes, each reaching the log,
//   every shard and Redis through fault proxies of its own (so a fault can cut one engine
//   off or all of them), an outbox relay in each, and an outbox consumer process;
// - deployment B: its own coordinator database and namespace, one engine with the workload on
//   accounts of its own, on the same shard databases and the same Redis, reached directly:
//   the nemeses never touch it, so every check of it must pass;
// - the shards, seeded with both deployments' accounts.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { ensureDatabase, withDatabase } from "../../server/infra/databases";
import { createTaggedDatabases } from "../../server/infra/scratchEnvironment";
import { initialPlacement } from "../../server/sim/placement";
import { endpointOf, proxiedUrl, startFaultProxy, type FaultProxy } from "../../server/testing/faultProxy";
import { startChild, type Child } from "./children";
import type { EngineWorkerArgs } from "./protocol";
import type { ClockShiftedRedis } from "../../server/testing/clockShiftedRedis";

export const ACCOUNTS = 200;
export const B_ACCOUNTS = 100;
/** Deployment B's accounts start here, far from A's. */
export const B_OFFSET = 100_000;
export const INITIAL_BALANCE = 1_000;
export const SHARDS = 3;
export const LEASE_MS = 3_000;
export const TX_TIMEOUT_MS = 5_000;
/** A quarter of the transfers stay on one shard and publish nothing: the engine's one-phase commit. */
export const SAME_SHARD_SHARE = 0.25;

export interface CampaignServers {
  /** Superuser URL of the PostgreSQL server (database name to be replaced). */
  serverUrl: string;
  redis: ClockShiftedRedis;
  /** A migrated coordinator database that runs clone. */
  templateDb: string;
  workDir: string;
}

export interface EngineProxies {
  log: FaultProxy;
  redis: FaultProxy;
  shards: Map<string, FaultProxy>;
}

export interface EngineHandle {
  child: Child;
  proxies: EngineProxies;
}

export interface Deployment {
  name: string;
  namespace: string;
  databaseUrl: string;
  accountOffset: number;
  accounts: number;
}

export interface Topology {
  runDir: string;
  shards: { name: string; url: string }[];
  a: Deployment;
  b: Deployment;
  /** Every A engine started in this run, killed ones included. */
  engines: EngineHandle[];
  /** Null with a single deployment (--deployments 1): B's databases exist but nothing runs on them. */
  bEngine: Child | null;
  consumer: Child;
  /** Starts one more A engine (a replacement after a kill) and waits until it is ready. */
  addEngine(): Promise<EngineHandle>;
  /** A engines still running. */
  liveEngines(): EngineHandle[];
  allChildren(): Child[];
  /** Deployment A's console (a child process), once it serves; started with the topology when asked. */
  startConsole(): Promise<ConsoleProcess>;
  close(): Promise<void>;
}

export interface ConsoleProcess {
  url: string;
  /** From spawning the process to the console serving. */
  startMs: number;
  /** The console process ended without being told to. */
  exited(): boolean;
  stderrTail(): string;
  stop(): Promise<void>;
}

export interface TopologyOptions {
  engines: number;
  concurrency: number;
  /** Transfers per second per engine. */
  rate: number;
  run: string;
  deployments: number;
  /** Start deployment A's console too (the operator nemesis), alongside the engines. */
  console: boolean;
}

const READY_MS = 90_000;
/** The console's graceful close (in-flight requests, socket.io, Redis) before a SIGKILL. */
const CONSOLE_STOP_MS = 8_000;

export async function buildTopology(servers: CampaignServers, opts: TopologyOptions): Promise<Topology> {
  const tag = `chaos_${randomBytes(3).toString("hex")}`;
  const runDir = path.join(servers.workDir, opts.run);
  fs.mkdirSync(runDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const dbs = await createTaggedDatabases(servers.serverUrl, tag, SHARDS, { template: servers.templateDb });
    cleanups.push(async () => {
      await dbs.drop();
      await dropDatabase(servers.serverUrl, `${tag}_b_cohort`);
    });
    await ensureDatabase(servers.serverUrl, `${tag}_b_cohort`, servers.templateDb);
    const a: Deployment = {
      name: "a",
      namespace: `chaos-a-${tag}`,
      databaseUrl: dbs.databaseUrl,
      accountOffset: 0,
      accounts: ACCOUNTS,
    };
    const b: Deployment = {
      name: "b",
      namespace: `chaos-b-${tag}`,
      databaseUrl: withDatabase(servers.serverUrl, `${tag}_b_cohort`),
      accountOffset: B_OFFSET,
      accounts: B_ACCOUNTS,
    };
    await seedBank(dbs.shards, [a, b]);

    const engines: EngineHandle[] = [];
    let serial = 0;
    let consoles = 0;
    const engineArgs = (d: Deployment, name: string, urls: { log: string; redis: string; shards: typeof dbs.shards }) =>
      ({
        role: "engine",
        name,
        deployment: d.name,
        namespace: d.namespace,
        databaseUrl: urls.log,
        redisUrl: urls.redis,
        shards: urls.shards,
        accounts: d.accounts,
        accountOffset: d.accountOffset,
        concurrency: opts.concurrency,
        rate: opts.rate,
        sameShardShare: SAME_SHARD_SHARE,
        timeoutMs: TX_TIMEOUT_MS,
        relay: d.name === "a",
        engine: {
          leaseMs: LEASE_MS,
          heartbeatMs: 500,
          reconcileEveryMs: 2_000,
          phase2MaxDelayMs: 2_000,
          queueReclaimIdleMs: 5_000,
        },
        historyFile: path.join(runDir, `${name}.history.jsonl`),
        maxLifetimeMs: 15 * 60_000,
      }) satisfies EngineWorkerArgs;

    const startEngine = async (): Promise<EngineHandle> => {
      const name = `a${++serial}`;
      const proxy = (url: string, protocol: "postgres" | "raw", what: string) =>
        startFaultProxy({ target: endpointOf(url), protocol, name: `${name}->${what}` });
      const proxies: EngineProxies = {
        log: await proxy(a.databaseUrl, "postgres", "log"),
        redis: await proxy(servers.redis.url, "raw", "redis"),
        shards: new Map(),
      };
      for (const s of dbs.shards) proxies.shards.set(s.name, await proxy(s.url, "postgres", s.name));
      cleanups.push(async () => {
        for (const p of [proxies.log, proxies.redis, ...proxies.shards.values()]) await p.close();
      });
      const child = startChild(
        engineArgs(a, name, {
          log: proxiedUrl(a.databaseUrl, proxies.log.port),
          redis: proxiedUrl(servers.redis.url, proxies.redis.port),
          shards: dbs.shards.map((s) => ({ name: s.name, url: proxiedUrl(s.url, proxies.shards.get(s.name)!.port) })),
        }),
        runDir,
      );
      const handle = { child, proxies };
      engines.push(handle);
      return handle;
    };

    const startConsole = async (): Promise<ConsoleProcess> => {
      const started = Date.now();
      const child = startChild(
        {
          role: "console",
          name: `console${++consoles}`,
          namespace: a.namespace,
          databaseUrl: a.databaseUrl,
          redisUrl: servers.redis.url,
          shards: dbs.shards,
          historyFile: path.join(runDir, `console${consoles}.history.jsonl`),
          maxLifetimeMs: 15 * 60_000,
        },
        runDir,
      );
      const stop = async () => {
        child.killExpected = true;
        child.send({ cmd: "exit" });
        if (!(await child.exited(CONSOLE_STOP_MS))) child.kill("SIGKILL");
        await child.exited(5_000);
      };
      // A run that fails before the nemesis stops it (or a Ctrl-C) still takes it down.
      cleanups.push(stop);
      const ready = await child.next("ready", READY_MS).catch(async (err: unknown) => {
        await stop();
        throw err;
      });
      return {
        url: ready.url!,
        startMs: Date.now() - started,
        exited: () => child.exit !== null && !child.killExpected,
        stderrTail: () => child.stderrTail(600),
        stop,
      };
    };
    let consoleStart: Promise<ConsoleProcess> | null = null;
    // Next.js takes seconds to come up: it does so while the engines start.
    if (opts.console) {
      consoleStart = startConsole();
      consoleStart.catch(() => undefined);
    }

    const children: Child[] = [];
    // Judged already: no need for a graceful stop, which a wedged engine could drag out.
    cleanups.push(async () => {
      const all = [...children, ...engines.map((e) => e.child)];
      for (const c of all) c.kill("SIGKILL");
      await Promise.all(all.map((c) => c.exited(5_000)));
    });
    const consumer = startChild(
      {
        role: "consumer",
        name: "consumer",
        namespace: a.namespace,
        redisUrl: servers.redis.url,
        historyFile: path.join(runDir, "consumer.history.jsonl"),
        maxLifetimeMs: 15 * 60_000,
      },
      runDir,
    );
    children.push(consumer);
    const bEngine =
      opts.deployments > 1
        ? startChild(engineArgs(b, "b1", { log: b.databaseUrl, redis: servers.redis.url, shards: dbs.shards }), runDir)
        : null;
    if (bEngine) children.push(bEngine);
    // The first engine registers the shards; engines starting together race on that
    // registration (a unique-key error kills the loser), so the rest start after it.
    const first = await startEngine();
    await first.child.next("ready", READY_MS);
    for (let i = 1; i < opts.engines; i++) await startEngine();
    await Promise.all([...children, ...engines.map((e) => e.child)].map((c) => c.next("ready", READY_MS)));

    return {
      runDir,
      shards: dbs.shards,
      a,
      b,
      engines,
      bEngine,
      consumer,
      addEngine: async () => {
        const e = await startEngine();
        await e.child.next("ready", READY_MS);
        return e;
      },
      liveEngines: () => engines.filter((e) => !e.child.exit),
      allChildren: () => [...children, ...engines.map((e) => e.child)],
      startConsole: () => (consoleStart ??= startConsole()),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

/** The bank schema on every shard and each deployment's accounts where the initial ring puts them. */
async function seedBank(shards: { name: string; url: string }[], deployments: Deployment[]): Promise<void> {
  const placement = await initialPlacement(shards.map((s) => s.name));
  for (const s of shards) {
    const c = new pg.Client({ connectionString: s.url });
    await c.connect();
    try {
      await c.query(`
        CREATE TABLE IF NOT EXISTS accounts (
          id bigint PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0), fence bigint NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS ledger (
          tx_id uuid NOT NULL, account bigint NOT NULL, delta bigint NOT NULL, PRIMARY KEY (tx_id, account));`);
      const ids: number[] = [];
      for (const d of deployments) {
        for (let i = 0; i < d.accounts; i++) {
          const id = d.accountOffset + i;
          if (placement.locate(String(id)) === s.name) ids.push(id);
        }
      }
      await c.query("INSERT INTO accounts (id, balance) SELECT unnest($1::bigint[]), $2", [ids, INITIAL_BALANCE]);
    } finally {
      await c.end();
    }
  }
}
