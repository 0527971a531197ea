// One Cohort process at a time runs local databases from a data dir (<COHORT_DATA_DIR>).
// A second `npm start`, or `npm run db:migrate` while the demo runs, would otherwise take
// the first one's PostgreSQL for a stale leftover and stop it (server/infra/embeddedPostgres.ts).
// The claim also remembers the local redis-server: PostgreSQL's postmaster.pid lets the next
// start stop a postmaster that a SIGKILLed demo left behind, but nothing else would find its
// redis-server again.
import fs from "node:fs/promises";
import path from "node:path";
import { commandLineOf, isAlive } from "./processes";

interface OwnerRecord {
  pid: number;
  redisPid?: number;
}

export interface DataDirClaim {
  /** Remembers the redis-server started for this data dir, so a later start can stop it if we die. */
  recordRedis(pid: number): Promise<void>;
  release(): Promise<void>;
}

export async function claimDataDir(dataDir: string): Promise<DataDirClaim> {
  const file = path.join(dataDir, "owner.json");
  await fs.mkdir(dataDir, { recursive: true });
  for (;;) {
    try {
      await fs.writeFile(file, JSON.stringify({ pid: process.pid } satisfies OwnerRecord), { flag: "wx", mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const previous = await readOwner(file);
    if (previous && previous.pid !== process.pid && isAlive(previous.pid)) {
      throw new Error(
        `Cohort is already running from ${dataDir}/ (process ${previous.pid}): stop it first, ` +
          `or give this one a data dir of its own with COHORT_DATA_DIR`,
      );
    }
    // Left by a process that died without cleaning up (SIGKILL, a power cut).
    if (previous?.redisPid && (await commandLineOf(previous.redisPid))?.startsWith("redis-server")) {
      process.kill(previous.redisPid, "SIGKILL"); // no persistence configured: nothing to flush
    }
    await fs.rm(file, { force: true });
  }
  let record: OwnerRecord = { pid: process.pid };
  return {
    recordRedis: async (redisPid) => {
      record = { ...record, redisPid };
      await fs.writeFile(file, JSON.stringify(record), { mode: 0o600 });
    },
    release: async () => {
      if ((await readOwner(file))?.pid === process.pid) await fs.rm(file, { force: true });
    },
  };
}

async function readOwner(file: string): Promise<OwnerRecord | null> {
  const text = await fs.readFile(file, "utf8").catch(() => null);
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as Partial<OwnerRecord>;
    return typeof parsed.pid === "number" ? (parsed as OwnerRecord) : null;
  } catch {
    return null;
  }
}
