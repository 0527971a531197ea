// The console process's shared clients. Next.js bundles route handlers and server
// components separately from server/main.ts, so module-level singletons would be
// duplicated; globalThis is the one object both sides see.
import type { Redis } from "ioredis";
import type { PrismaClient } from "./db/prisma";
import type { Config } from "./config";

export interface Runtime {
  config: Config;
  prisma: PrismaClient;
  redis: Redis;
  shardNames: string[];
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
