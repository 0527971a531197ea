// The running demo writes where its databases are to <COHORT_DATA_DIR>/runtime.json, so
// command-line tools (creating users, fault injection in end-to-end tests) can reach the
// embedded PostgreSQL and Redis, whose ports are chosen at start. Secrets stay on this machine
// (the file is 0600 in a git-ignored folder).
import fs from "node:fs/promises";
import path from "node:path";
import type { ShardEndpoint } from "./bootstrap";

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
  const info = JSON.parse(text) as RuntimeFile;
  try {
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null;
  }
}
