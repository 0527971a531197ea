// Starts `redis-server` from the PATH on a free port when no REDIS_URL is given.
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "./freePort";

export interface LocalRedisHandle {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startLocalRedis(opts: { port?: number } = {}): Promise<LocalRedisHandle> {
  const port = opts.port ?? (await freePort());
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
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
    stop: async () => {
      process.off("exit", killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
