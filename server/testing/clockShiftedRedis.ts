// A redis-server whose wall clock can be stepped live (clockShift.c, preloaded) without
// touching the machine's, and which restarts on the same port with or without its data.
// Used by the fencing tests and the chaos campaign's clock-step and redis-restart nemeses.
// Test tooling: the shim is compiled with the system's cc once per process.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "../infra/freePort";
import { startLocalRedis } from "../infra/localRedis";

export interface ClockShiftedRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Whether the clock can be stepped (started with shiftClock, the default). */
  readonly clockShifted: boolean;
  /** Steps the server's wall clock to real time + offsetMs (negative: back), live; 0 is true time. */
  setClockOffsetMs(offsetMs: number): void;
  /**
   * Stops the server and starts it again on the same port after downMs. keepData: it saves
   * its keys first (SHUTDOWN SAVE) and loads them again; otherwise it is SIGKILLed and comes
   * back empty, as a Redis without persistence does.
   */
  restart(opts?: { keepData?: boolean; downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export interface ClockShiftedRedisOptions {
  /** Where the server keeps its offset file and dump (kept after stop); default a temp dir, removed on stop. */
  dir?: string;
  /** false: a plain redis-server, no shim and so no need for cc; setClockOffsetMs then refuses to step. */
  shiftClock?: boolean;
}

let shim: { dir: string; lib: string; users: number } | undefined;
const removeShim = () => {
  if (shim) fs.rmSync(shim.dir, { recursive: true, force: true });
  shim = undefined;
};

/**
 * Compiles clockShift.c into a temp dir, once for all the servers a process runs at a time.
 * The last server's stop removes it: test workers are ended without an exit event.
 */
function acquireShim(): string {
  if (shim) {
    shim.users++;
    return shim.lib;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cohort-clockshift-lib-"));
  const lib = path.join(dir, "clockshift.so");
  const source = path.join(import.meta.dirname, "clockShift.c");
  try {
    execFileSync("cc", ["-shared", "-fPIC", "-O2", "-o", lib, source], { stdio: "pipe", timeout: 60_000 });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT") {
      throw new Error(
        "no C compiler (cc) on PATH: stepping redis-server's clock needs clockShift.c compiled; install one (apt-get install gcc libc6-dev)",
      );
    }
    throw new Error(`compiling ${source} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
  process.once("exit", removeShim);
  shim = { dir, lib, users: 1 };
  return lib;
}

function releaseShim(): void {
  if (shim && --shim.users === 0) {
    process.off("exit", removeShim);
    removeShim();
  }
}

export async function startClockShiftedRedis(opts: ClockShiftedRedisOptions = {}): Promise<ClockShiftedRedis> {
  const shiftClock = opts.shiftClock ?? true;
  const lib = shiftClock ? acquireShim() : null;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "cohort-clockshift-"));
  fs.mkdirSync(dir, { recursive: true });
  const offsetFile = path.join(dir, "clock-offset-us");
  const writeOffset = (us: number) => {
    // Renamed into place so the shim never reads a half-written number.
    fs.writeFileSync(`${offsetFile}.tmp`, String(us));
    fs.renameSync(`${offsetFile}.tmp`, offsetFile);
  };
  writeOffset(0);
  const port = await freePort();
  const start = () => startLocalRedis({ port, dir, extraEnv: lib ? { LD_PRELOAD: lib, CLOCKSHIFT_FILE: offsetFile } : {} });
  let server = await start().catch((err: unknown) => {
    if (lib) releaseShim();
    throw err;
  });

  let stopped = false;
  return {
    url: server.url,
    port,
    get pid() {
      return server.pid;
    },
    clockShifted: shiftClock,
    setClockOffsetMs(offsetMs) {
      if (!lib && offsetMs !== 0) throw new Error("this redis-server was started without the clock shim (shiftClock: false)");
      if (lib) writeOffset(Math.round(offsetMs * 1000));
    },
    async restart({ keepData = false, downMs = 0 } = {}) {
      if (keepData) {
        await sendCommand(port, "SHUTDOWN SAVE");
        await server.stop();
      } else {
        await server.stop("SIGKILL");
        // A dump from an earlier keepData restart would bring the keys back.
        fs.rmSync(path.join(dir, "dump.rdb"), { force: true });
      }
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      server = await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop("SIGKILL");
      if (lib) releaseShim();
      if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One inline command on a fresh connection; resolves when the server closes it (SHUTDOWN) or answers. */
function sendCommand(port: number, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(`${command}\r\n`));
    let reply = "";
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.startsWith("-")) {
        socket.destroy();
        reject(new Error(`redis-server refused ${command}: ${reply.trim()}`));
      }
    });
    socket.once("error", reject);
    socket.once("close", () => resolve());
  });
}
