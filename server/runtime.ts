// The console process's shared clients. Next.js bundles route handlers and server
// components separately from server/main.ts, so module-level singletons would be
// duplicated; globalThis is the one object both sides see.
import type { Redis } from "ioredis";
import type pg from "pg";
import type { PrismaClient } from "./db/prisma";
import type { Config } from "./config";
import type { Engine } from "./engine/engine";
import type { LockService } from "./locks/lockService";
import type { PostgresShard } from "./participants/postgresShard";
import type { RabbitDepths } from "./queues/rabbit";

export interface Runtime {
  config: Config;
  prisma: PrismaClient;
  /** Synchronous-commit pool of the coordinator database (operator decisions are forced). */
  pool: pg.Pool;
  redis: Redis;
  shardNames: string[];
  /** Control connections to the shards (prepared-transaction state, reconciliation). */
  shards: PostgresShard[];
  /** The engine instance in this process, if any: it drives operator decisions at once. */
  engine: Engine | null;
  /** The lock service (listing, operator release). */
  locks: LockService | null;
  queues: {
    /** The deployment namespace (COHORT_NAMESPACE): queue streams `<namespace>:q:<name>`, events, locks, login counters. */
    namespace: string;
    /** The consumers' reclaim threshold: "retry now" makes an entry idle past it. */
    reclaimIdleMs: number;
    /** RabbitMQ queues shown beside the streams, when configured. */
    rabbit: RabbitDepths | null;
  };
}

const KEY = Symbol.for("cohort.runtime");
type Holder = { [KEY]?: Runtime };

export function setRuntime(runtime: Runtime): void {
  (globalThis as Holder)[KEY] = runtime;
}

export function getRuntime(): Runtime {
  const runtime = (globalThis as Holder)[KEY];
  if (!runtime) throw new Error("Cohort runtime is not initialised: start the console with server/main.ts");
  return runtime;
}
