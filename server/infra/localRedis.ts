// Starts `redis-server` from the PATH on a free port when no REDIS_URL is given.
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "./freePort";

export interface LocalRedisHandle {
  url: string;
  pid: number;
  /** SIGTERM by default; SIGKILL is a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface LocalRedisOptions {
  port?: number;
  /** Working directory for a dump (SHUTDOWN SAVE); nothing is saved otherwise. */
  dir?: string;
  /** Added to the environment the server inherits (an LD_PRELOAD, for tests). */
  extraEnv?: Record<string, string>;
}

export async function startLocalRedis(opts: LocalRedisOptions = {}): Promise<LocalRedisHandle> {
  const port = opts.port ?? (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"];
  if (opts.dir) args.push("--dir", opts.dir);
  // env(1) adds the variables to the inherited environment, so nothing here reads process.env.
  const assignments = Object.entries(opts.extraEnv ?? {}).map(([k, v]) => `${k}=${v}`);
  const child: ChildProcess = spawn(
    assignments.length ? "env" : "redis-server",
    assignments.length ? [...assignments, "redis-server", ...args] : args,
    // Own process group: Ctrl-C reaches Cohort, which stops Redis after draining the engine.
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "ENOENT"
          ? new Error("redis-server is not on the PATH. Install it (Debian: apt-get install redis-server) or set REDIS_URL.")
          : err,
      ),
    );
    child.once("exit", (code) => reject(new Error(`redis-server exited with code ${code}:\n${output}`)));
  });
  child.stdout?.removeAllListeners("data");
  child.stderr?.removeAllListeners("data");
  child.stdout?.resume();
  child.stderr?.resume();
  child.removeAllListeners("exit");
  // Never outlive the process that started it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async (signal = "SIGTERM") => {
      process.off("exit", killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill(signal);
      await exited;
    },
  };
}
