// The campaign's own redis-server: no persistence, so a restart loses every key (the
// redis-restart nemesis), on a fixed port so clients reconnect to the same address, and with
// a wall clock the campaign can step (the clock-step nemesis) without touching the machine's.
//
// The stepped clock comes from Debian's libfaketime (FAKETIME_TIMESTAMP_FILE, re-read on every
// call) when it can run this redis-server. Debian's redis-server links jemalloc, with which
// libfaketime hangs at start-up (libfaketime#130), so a probe falls back to clockShim.c,
// compiled here with cc: the same file-driven offset, by raw syscalls. Without either, the
// clock cannot be stepped and the clock-step nemesis says so.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { freePort } from "../../server/infra/freePort";

const LIBFAKETIME = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
  "/usr/lib/faketime/libfaketimeMT.so.1",
];

export type ClockMethod = "libfaketime" | "clock-shim" | "none";

export interface CampaignRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  readonly clock: ClockMethod;
  /** Moves Redis's wall clock to real time + `seconds` (0 = true time). */
  stepClock(seconds: number): void;
  /** SIGKILL and start again on the same port: every key is gone. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startCampaignRedis(dir: string): Promise<CampaignRedis> {
  fs.mkdirSync(dir, { recursive: true });
  const clockFile = path.join(dir, "redis-clock");
  fs.writeFileSync(clockFile, "+0\n");
  const port = await freePort();
  const candidates: { clock: ClockMethod; env: Record<string, string> }[] = [];
  const faketime = LIBFAKETIME.find((f) => fs.existsSync(f));
  if (faketime) {
    candidates.push({
      clock: "libfaketime",
      env: {
        LD_PRELOAD: faketime,
        FAKETIME_TIMESTAMP_FILE: clockFile,
        FAKETIME_NO_CACHE: "1",
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
      },
    });
  }
  const shim = compileShim(dir);
  if (shim) candidates.push({ clock: "clock-shim", env: { LD_PRELOAD: shim, COHORT_CLOCK_FILE: clockFile } });
  candidates.push({ clock: "none", env: {} });

  let child: ChildProcess | null = null;
  let chosen = candidates[candidates.length - 1]!;
  for (const c of candidates) {
    child = await spawnRedis(port, c.env, 3_000).catch(() => null);
    if (child) {
      chosen = c;
      break;
    }
  }
  if (!child) throw new Error(`redis-server did not start on port ${port} (is it installed? apt-get install redis-server)`);
  let current: ChildProcess = child;
  const killOnExit = () => current.kill("SIGKILL");
  process.on("exit", killOnExit);

  const kill = async (signal: NodeJS.Signals) => {
    if (current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((r) => current.once("exit", r));
    current.kill(signal);
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return current.pid;
    },
    clock: chosen.clock,
    stepClock(seconds) {
      fs.writeFileSync(clockFile, `${seconds >= 0 ? "+" : "-"}${Math.abs(Math.round(seconds))}\n`);
    },
    async restart(downMs = 0) {
      await kill("SIGKILL");
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      current = await spawnRedis(port, chosen.env, 10_000);
    },
    async stop() {
      process.off("exit", killOnExit);
      await kill("SIGTERM");
    },
  };
}

function compileShim(dir: string): string | null {
  const out = path.join(dir, "clockShim.so");
  try {
    execFileSync("cc", ["-shared", "-fPIC", "-O2", "-o", out, path.join(import.meta.dirname, "clockShim.c")], {
      stdio: "ignore",
      timeout: 30_000,
    });
    return out;
  } catch {
    return null;
  }
}

/** Starts redis-server and waits until it accepts connections; a hang (libfaketime) counts as failure. */
function spawnRedis(port: number, env: Record<string, string>, timeoutMs: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
    { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, ...env } },
  );
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server not ready within ${timeoutMs} ms: ${output.slice(-300)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes("Ready to accept connections")) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners("data");
      child.stderr?.removeAllListeners("data");
      child.stdout?.resume();
      child.stderr?.resume();
      child.removeAllListeners("exit");
      resolve(child);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with code ${code}: ${output.slice(-300)}`));
    });
  });
}
