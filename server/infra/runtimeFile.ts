// The running demo writes where its databases are to <COHORT_DATA_DIR>/runtime.json, so
// command-line tools (creating users, fault injection in end-to-end tests) can reach the
// embedded PostgreSQL and Redis, whose ports are chosen at start. Secrets stay on this machine
// (the file is 0600 in a git-ignored folder).
import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config";
import type { ShardEndpoint } from "./bootstrap";
import { isAlive } from "./processes";

export interface RuntimeFile {
  pid: number;
  databaseUrl: string;
  redisUrl: string;
  shards: ShardEndpoint[];
  consoleUrl?: string;
}

const fileOf = (dataDir: string) => path.join(dataDir, "runtime.json");

export async function writeRuntimeFile(dataDir: string, info: RuntimeFile): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(fileOf(dataDir), JSON.stringify(info, null, 2), { mode: 0o600 });
}

export async function removeRuntimeFile(dataDir: string): Promise<void> {
  await fs.rm(fileOf(dataDir), { force: true });
}

/** The running demo's endpoints, or null when none is running from this data dir. */
export async function readRuntimeFile(dataDir: string): Promise<RuntimeFile | null> {
  const text = await fs.readFile(fileOf(dataDir), "utf8").catch(() => null);
  if (!text) return null;
  try {
    const info = JSON.parse(text) as RuntimeFile;
    return isAlive(info.pid) ? info : null;
  } catch {
    return null; // cut short by a crash mid-write: no demo to talk to
  }
}

export interface Endpoints {
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  shards: ShardEndpoint[] | undefined;
  /** The running demo, when there is one. */
  demo: RuntimeFile | null;
}

/**
 * Where a command-line tool finds the databases: each URL from the environment when set,
 * else from the demo running from COHORT_DATA_DIR.
 */
export async function findEndpoints(config: Config): Promise<Endpoints> {
  const demo = await readRuntimeFile(config.COHORT_DATA_DIR);
  return {
    databaseUrl: config.DATABASE_URL ?? demo?.databaseUrl,
    redisUrl: config.REDIS_URL ?? demo?.redisUrl,
    shards: config.SHARD_URLS ?? demo?.shards,
    demo,
  };
}

/** The error for a tool that found neither a running demo nor the variables it needs. */
export function noEndpointsError(config: Config, variables: string[]): Error {
  const vars = variables.length === 1 ? `${variables[0]} is` : `${variables.slice(0, -1).join(", ")} and ${variables.at(-1)} are`;
  return new Error(`no running demo found in ${config.COHORT_DATA_DIR}/ (start one with npm start) and ${vars} not set`);
}
