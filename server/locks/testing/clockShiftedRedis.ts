// A redis-server whose wall clock a test can step (clockShift.c, preloaded), and which it
// can restart on the same port with its data lost. Test tooling: it compiles the shim with
// the system's gcc on first use.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../infra/freePort";

export interface ClockShiftedRedis {
  url: string;
  /** Steps the server's wall clock to real time + offsetMs (negative: back), live. */
  setClockOffsetMs(offsetMs: number): void;
  /** Kills the server (no persistence: its data is gone) and starts it again on the same port. */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

function buildShim(dir: string): string {
  const source = path.join(path.dirname(fileURLToPath(import.meta.url)), "clockShift.c");
  const lib = path.join(dir, "clockshift.so");
  execFileSync("gcc", ["-shared", "-fPIC", "-O2", "-o", lib, source], { stdio: "pipe" });
  return lib;
}

export async function startClockShiftedRedis(): Promise<ClockShiftedRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cohort-clockshift-"));
  const lib = buildShim(dir);
  const offsetFile = path.join(dir, "offset-us");
  fs.writeFileSync(offsetFile, "0");
  const port = await freePort();
  let child: ChildProcess | null = null;
  const killOnExit = () => child?.kill("SIGKILL");
  process.once("exit", killOnExit);

  const start = async () => {
    // env(1) adds the preload to the inherited environment.
    const proc = spawn(
      "env",
      [
        `LD_PRELOAD=${lib}`,
        `CLOCKSHIFT_FILE=${offsetFile}`,
        "redis-server",
        ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", onData);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with code ${code}:\n${output}`));
      });
    });
    proc.removeAllListeners("exit");
    proc.stdout?.removeAllListeners("data").resume();
    proc.stderr?.removeAllListeners("data").resume();
  };
  const kill = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    setClockOffsetMs: (offsetMs) => fs.writeFileSync(offsetFile, String(Math.round(offsetMs * 1000))),
    restartEmpty: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      process.off("exit", killOnExit);
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
