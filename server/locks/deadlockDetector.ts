// Deadlock detection on the wait-for graph (DESIGN.md §3). Every engine instance may run
// a detector; a short leadership lease in Redis lets one of them act per round, so a
// cycle gets one victim and one timeline record, not one per instance.
//
// A round reads the locks that have waiters (not an atomic snapshot: each lock is read
// at its own moment), finds cycles, and then reads the locks of each cycle again. An edge
// names one grant (holder token) or one wait (waiter id), both of which exist without a
// break from the moment they appear until they end, so an edge seen in both reads existed
// throughout; all edges of the cycle therefore existed together at the end of the first
// read. That rules out phantom cycles stitched together from different moments.
import { randomUUID } from "node:crypto";
import { errorMessage } from "../errors";
import type { LockService } from "./lockService";
import type { WaitForEdge } from "./types";
import { buildWaitForEdges, chooseVictim, edgeId, findCycles } from "./waitForGraph";

export interface DeadlockDetectorOptions {
  lockService: LockService;
  /** Time between rounds. A cycle is broken within about one to two intervals. */
  intervalMs?: number;
  /**
   * Called once per broken cycle, after the victim's pending acquire has been told to
   * fail with DEADLOCK_VICTIM. The engine aborts the victim (releasing its locks) and
   * writes the detection to its timeline. May run on another instance than the victim's.
   */
  onVictim(victimOwner: string, cycle: WaitForEdge[]): void | Promise<void>;
  /** How often the leader also drops index entries of vanished grants. */
  pruneEveryMs?: number;
  log?: (line: string) => void;
}

export interface DetectionRound {
  leader: boolean;
  cycles: number;
  victims: { owner: string; key: string; cycle: WaitForEdge[] }[];
}

export interface DeadlockDetector {
  readonly id: string;
  /** One round now (tests; also what the timer runs). */
  runOnce(): Promise<DetectionRound>;
  /** Stops the timer and gives up leadership so another instance takes over at once. */
  stop(): Promise<void>;
}

export function startDeadlockDetector(opts: DeadlockDetectorOptions): DeadlockDetector {
  const locks = opts.lockService;
  const intervalMs = opts.intervalMs ?? 500;
  // Long enough to survive one slow round, short enough that a dead leader is replaced
  // within a couple of rounds.
  const leaseMs = Math.max(3 * intervalMs, 1_000);
  const pruneEveryMs = opts.pruneEveryMs ?? 60_000;
  const id = `${locks.host}/${randomUUID()}`;
  const leaseKey = locks.indexKeys.detector;
  const log = opts.log ?? (() => undefined);
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let lastPrune = Date.now();

  const runOnce = async (): Promise<DetectionRound> => {
    if (!(await locks.lease(leaseKey, id, leaseMs))) return { leader: false, cycles: 0, victims: [] };
    const cycles = findCycles(await locks.waitForGraph());
    const victims: DetectionRound["victims"] = [];
    for (const cycle of cycles) {
      if (stopped) break;
      const confirmed = await confirm(cycle);
      if (!confirmed) continue;
      const victim = chooseVictim(confirmed);
      // Flagging fails if the victim's wait ended meanwhile: then the cycle is gone too.
      if (!(await locks.markVictim(victim))) continue;
      victims.push({ owner: victim.waiter, key: victim.key, cycle: confirmed });
      log(`deadlock: ${describe(confirmed)}; victim ${victim.waiter} (youngest)`);
      try {
        await opts.onVictim(victim.waiter, confirmed);
      } catch (err) {
        log(`deadlock: onVictim(${victim.waiter}) failed: ${errorMessage(err)}`);
      }
    }
    if (Date.now() - lastPrune >= pruneEveryMs) {
      lastPrune = Date.now();
      await locks.pruneIndex().catch((err: unknown) => log(`lock index prune failed: ${errorMessage(err)}`));
    }
    return { leader: true, cycles: cycles.length, victims };
  };

  /** The cycle's edges as read again now, or null if any of them is gone (or a victim is already chosen). */
  const confirm = async (cycle: WaitForEdge[]): Promise<WaitForEdge[] | null> => {
    const states = await locks.waitedLocks([...new Set(cycle.map((e) => e.key))]);
    if (states.some((s) => s.waiters.some((w) => w.victim && cycle.some((e) => e.waiterId === w.waiterId)))) return null;
    const now = new Map(buildWaitForEdges(states).map((e) => [edgeId(e), e]));
    const again = cycle.map((e) => now.get(edgeId(e)));
    return again.every((e) => e !== undefined) ? (again as WaitForEdge[]) : null;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce()
        .catch((err: unknown) => log(`deadlock detector: ${errorMessage(err)}`))
        .finally(() => {
          running = null;
          schedule();
        });
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    id,
    runOnce,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await locks.lease(leaseKey, id, 0).catch(() => undefined);
    },
  };
}

function describe(cycle: WaitForEdge[]): string {
  return cycle
    .map((e) => `${e.waiter} waits for ${e.holder} on "${e.key}"${e.via === "queuedAhead" ? " (queued ahead)" : ""}`)
    .join(", ");
}
