// The campaign's child processes: started with an IPC channel, their output kept in files,
// every one registered so that the campaign ending in any way (done, failure, Ctrl-C) kills
// them all. A child also exits by itself when its channel to us closes.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { FromWorker, ToWorker, WorkerArgs } from "./protocol";

export interface Child {
  readonly name: string;
  readonly args: WorkerArgs;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Engine instance id, once ready. */
  instance: string | undefined;
  /** Set by the nemesis before it kills or arms a kill: an exit then is expected. */
  killExpected: boolean;
  paused: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null;
  readonly stderrFile: string;
  send(m: ToWorker): void;
  /** Resolves with the next message of this kind, or rejects after timeoutMs. */
  next<E extends FromWorker["ev"]>(ev: E, timeoutMs: number): Promise<Extract<FromWorker, { ev: E }>>;
  stderrTail(chars?: number): string;
  kill(signal?: NodeJS.Signals): void;
  exited(timeoutMs: number): Promise<boolean>;
}

const live = new Set<Child>();

/** Kills every child still running (SIGCONT first, so a paused one can die). */
export function killAllChildren(): void {
  for (const c of live) {
    try {
      c.process.kill("SIGCONT");
      c.process.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

process.on("exit", killAllChildren);

const WORKER = path.join(import.meta.dirname, "..", "chaosWorker.ts");

export function startChild(args: WorkerArgs, logDir: string): Child {
  const stdoutFile = path.join(logDir, `${args.name}.out`);
  const stderrFile = path.join(logDir, `${args.name}.err`);
  const out = fs.openSync(stdoutFile, "a");
  const err = fs.openSync(stderrFile, "a");
  const proc = spawn(process.execPath, ["--import", "tsx", WORKER, JSON.stringify(args)], {
    stdio: ["ignore", out, err, "ipc"],
  });
  fs.closeSync(out);
  fs.closeSync(err);
  const messages: FromWorker[] = [];
  const waiters = new Set<() => void>();
  const child: Child = {
    name: args.name,
    args,
    pid: proc.pid ?? -1,
    process: proc,
    instance: undefined,
    killExpected: false,
    paused: false,
    exit: null,
    stderrFile,
    send: (m) => {
      if (proc.connected) proc.send(m, () => undefined);
    },
    next: (ev, timeoutMs) =>
      new Promise((resolve, reject) => {
        const look = () => {
          const i = messages.findIndex((m) => m.ev === ev);
          if (i >= 0) {
            waiters.delete(look);
            clearTimeout(timer);
            // "ready" stays: it is a state, asked after by more than one waiter.
            resolve((ev === "ready" ? messages[i] : messages.splice(i, 1)[0]) as never);
            return;
          }
          if (child.exit) {
            waiters.delete(look);
            clearTimeout(timer);
            const tail = child.stderrTail(300).replace(/\s+/g, " ");
            reject(new Error(`${args.name} exited (${child.exit.signal ?? child.exit.code}) before "${ev}": ${tail}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(look);
          reject(new Error(`${args.name}: no "${ev}" within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(look);
        look();
      }),
    stderrTail: (chars = 600) => {
      try {
        const text = fs.readFileSync(stderrFile, "utf8").trim();
        return text.slice(-chars);
      } catch {
        return "";
      }
    },
    kill: (signal = "SIGKILL") => {
      if (child.exit) return;
      if (signal === "SIGKILL" && child.paused) proc.kill("SIGCONT");
      proc.kill(signal);
    },
    exited: (timeoutMs) =>
      child.exit
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), timeoutMs);
            proc.once("exit", () => {
              clearTimeout(timer);
              resolve(true);
            });
          }),
  };
  proc.on("message", (m: FromWorker) => {
    if (m.ev === "ready" && m.instance) child.instance = m.instance;
    messages.push(m);
    for (const w of [...waiters]) w();
  });
  proc.on("exit", (code, signal) => {
    child.exit = { code, signal, at: Date.now() };
    live.delete(child);
    for (const w of [...waiters]) w();
  });
  live.add(child);
  return child;
}
