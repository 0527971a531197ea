// The rebalance executor: walks the keys in rebalance order from the persisted cursor,
// moves each key whose owner changed through the caller's moveKey (a Cohort transaction:
// delete on the old shard, insert on the new), and records the cursor after every move.
//
// - Resumable: a restarted executor claims the run once the dead one's lease lapses and
//   continues from the cursor. The key that was moving when it died is moved again, so
//   moveKey must recognise a key that is already at its new owner and say "already".
// - Cancellable: cancelRebalance flips the status; the executor sees it on the write that
//   records its current key and stops there, so the cursor is always exact.
// - Keys are scanned in pages rather than planned up front, so keys created during the run
//   ahead of the cursor (at their old owner, which routing tells their creator) are moved
//   too; see routing.ts for the one race that leaves for key creation.
import type { Redis } from "ioredis";
import { v7 as uuidv7 } from "uuid";
import type { PrismaClient } from "../db/prisma";
import { backoffDelay } from "../engine/backoff";
import { CohortError, errorMessage, isCohortError } from "../errors";
import { publishEvent } from "../live/events";
import type { Hasher, HashRing } from "./hashRing";
import { compareKeys } from "./rebalance";
import {
  claimRun,
  getRebalanceRun,
  rebalanceEvent,
  recordProgress,
  releaseRun,
  renewLease,
  setTotal,
  type RebalanceRunInfo,
  type RebalanceStatus,
} from "./rebalanceStore";
import { loadRingVersion } from "./ringStore";

/** What moveKey found: it moved the key, or the key was already on `to` and not on `from`. */
export type MoveOutcome = "moved" | "already";

export interface RebalanceProgress {
  runId: string;
  version: number;
  moved: number;
  skipped: number;
  total: number | null;
  cursor: string | null;
  status: RebalanceStatus;
}

export interface RunRebalanceOptions {
  prisma: PrismaClient;
  redis: Redis;
  /** The deployment namespace: progress events go to its events stream. */
  namespace: string;
  hasher: Hasher;
  runId: string;
  /**
   * Up to `limit` distinct keys strictly after `after` (null: from the start) in
   * compareKeys order, ascending, gathered from every shard of both rings: the first
   * `limit` of their union, none left out. Routing relies on this: a page out of order
   * fails the run, but a page that skips keys cannot be detected, and the executor steps
   * over the skipped keys unmoved. (Pitfall: `SELECT id::text … ORDER BY id` sorts the
   * text output column; select the bigint and order by it.)
   */
  fetchKeys(after: string | null, limit: number): Promise<string[]>;
  /**
   * Moves one key from shard `from` to shard `to` in one Cohort transaction (delete there,
   * insert here), returning "moved"; or, when the key is no longer on `from` but is on
   * `to` (an earlier attempt committed and then the executor died), moves nothing and
   * returns "already". Throwing means "retry later"; after maxAttempts the run is FAILED.
   */
  moveKey(key: string, from: string, to: string): Promise<MoveOutcome>;
  /** Identifies this executor in the run's owner column. */
  executorId?: string;
  /** How long the claim on the run survives without a write from us. */
  leaseMs?: number;
  pageSize?: number;
  /** Tries per key before the run is marked FAILED (it can be resumed). */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Progress events are throttled to one per interval; status changes always go out. */
  progressEveryMs?: number;
  /** Process shutdown: let go of the run (still RUNNING) so another executor can take it at once. */
  signal?: AbortSignal;
  /** Called after every persisted step, e.g. to advance this process's RoutingTable at once. */
  onProgress?(progress: RebalanceProgress): void;
  log?(line: string): void;
}

export interface RebalanceOutcome extends RebalanceProgress {
  /** Why this call returned. */
  stopped: "done" | "cancelled" | "failed" | "aborted" | "lost-lease" | "not-running";
  error?: string;
}

export async function runRebalance(opts: RunRebalanceOptions): Promise<RebalanceOutcome> {
  const owner = opts.executorId ?? `rebalance:${uuidv7()}`;
  const leaseMs = opts.leaseMs ?? 10_000;
  const pageSize = opts.pageSize ?? 500;
  const maxAttempts = opts.maxAttempts ?? 5;
  const progressEveryMs = opts.progressEveryMs ?? 250;
  const { prisma, runId } = opts;

  const claimed = await claimRun(prisma, runId, owner, leaseMs);
  if (!claimed) {
    const run = await getRebalanceRun(prisma, runId);
    if (!run) throw new CohortError("NOT_FOUND", `no rebalance run ${runId}`);
    if (run.status !== "RUNNING") return { ...progressOf(run), stopped: "not-running" };
    throw new CohortError(
      "RING_CONFLICT",
      `rebalance run ${runId} is being executed by ${run.ownerId} (lease until ${run.leaseExpiresAt?.toISOString()})`,
      {
        details: { reason: "run-owned", runId, ownerId: run.ownerId },
      },
    );
  }
  const [from, to] = await Promise.all([
    loadRingVersion(prisma, opts.hasher, claimed.fromVersion),
    loadRingVersion(prisma, opts.hasher, claimed.toVersion),
  ]);
  if (!from || !to) throw new CohortError("INTERNAL", `ring versions of run ${runId} are missing`);
  const fromRing = from.ring;
  const toRing = to.ring;

  const state: RebalanceProgress = progressOf(claimed);
  let lastPublished = 0;
  const publish = (force: boolean) => {
    opts.onProgress?.({ ...state });
    const now = Date.now();
    if (!force && now - lastPublished < progressEveryMs) return;
    lastPublished = now;
    void publishEvent(opts.redis, opts.namespace, rebalanceEvent({ id: runId, toVersion: state.version, ...state })).catch(
      () => undefined,
    );
  };
  const finish = async (
    end: Parameters<typeof releaseRun>[3],
    stopped: RebalanceOutcome["stopped"],
    error?: string,
  ): Promise<RebalanceOutcome> => {
    const run = await releaseRun(prisma, runId, owner, end);
    if (run) Object.assign(state, progressOf(run));
    publish(true);
    opts.log?.(
      `[ring] rebalance ${runId} ${stopped}: ${state.moved} moved, ${state.skipped} already there${error ? ` (${error})` : ""}`,
    );
    return { ...state, stopped, ...(error ? { error } : {}) };
  };

  // A move can outlast the lease (a shard timing out); keep the claim alive meanwhile.
  let lost = false;
  const heartbeat = setInterval(() => {
    void renewLease(prisma, runId, owner, leaseMs).then(
      (s) => (lost ||= s === null),
      () => undefined,
    );
  }, leaseMs / 3);
  heartbeat.unref();

  try {
    return await drive();
  } catch (err) {
    // A key source that keeps failing, or breaks the order: FAILED with the reason, so the
    // run is visible and resumable rather than held until the lease lapses. If even that
    // write fails (the coordinator database is gone), the lease lapsing is the fallback.
    const message = errorMessage(err);
    const failed = await finish({ status: "FAILED", error: message }, "failed", message).catch(() => null);
    if (failed) return failed;
    throw err;
  } finally {
    clearInterval(heartbeat);
  }

  async function drive(): Promise<RebalanceOutcome> {
    if (state.total === null) {
      state.total = state.moved + state.skipped + (await countRemaining(opts, fromRing, toRing, state.cursor));
      if (!(await setTotal(prisma, runId, owner, state.total))) return { ...state, stopped: "lost-lease" };
    }
    publish(true);

    /** Every key up to here is at its new owner; ahead of the persisted cursor only by unchanged keys. */
    let passed = state.cursor;
    for (;;) {
      if (lost) return { ...state, stopped: "lost-lease" };
      if (opts.signal?.aborted) return await letGo(passed);
      const page = await fetchPage(opts, passed, pageSize);
      if (page.length === 0) {
        // Every key has moved: DONE even if a cancel arrived in the meantime.
        if (passed !== state.cursor && (await step({ cursor: passed })) === null) return { ...state, stopped: "lost-lease" };
        // Fewer than counted at the start: keys deleted during the run, or a key source that
        // skipped some (see fetchKeys). The run is complete either way; say so.
        const shortfall = (state.total ?? 0) - state.moved - state.skipped;
        if (shortfall > 0) opts.log?.(`[ring] rebalance ${runId}: ${shortfall} key(s) counted at the start were not seen again`);
        return await finish({ status: "DONE" }, "done");
      }
      for (const key of page) {
        const h = fromRing.hash(key);
        const a = fromRing.ownerOfHash(h);
        const b = toRing.ownerOfHash(h);
        if (a === b) {
          passed = key;
          continue;
        }
        if (lost) return { ...state, stopped: "lost-lease" };
        if (opts.signal?.aborted) return await letGo(passed);
        let outcome: MoveOutcome;
        try {
          outcome = await withRetry(opts, `moving ${key} ${a}→${b}`, maxAttempts, () => opts.moveKey(key, a, b));
        } catch (err) {
          await step({ cursor: passed });
          return await finish(
            { status: "FAILED", error: `moving ${key} from ${a} to ${b}: ${errorMessage(err)}` },
            "failed",
            errorMessage(err),
          );
        }
        const status = await step(outcome === "moved" ? { cursor: key, moved: 1 } : { cursor: key, skipped: 1 });
        passed = key;
        if (status !== "RUNNING") return await stopFor(status);
      }
      // Unchanged keys need no write of their own; recording the page end bounds a rescan.
      if (passed !== state.cursor) {
        const status = await step({ cursor: passed });
        if (status !== "RUNNING") return await stopFor(status);
      }
    }
  }

  async function step(s: { cursor: string | null; moved?: number; skipped?: number }): Promise<RebalanceStatus | null> {
    const status = await recordProgress(prisma, runId, owner, leaseMs, s);
    if (status === null) {
      lost = true;
      return null;
    }
    state.cursor = s.cursor;
    state.moved += s.moved ?? 0;
    state.skipped += s.skipped ?? 0;
    state.status = status;
    publish(false);
    return status;
  }

  /** The run is no longer ours to continue: cancelled (let go), or taken by another executor. */
  async function stopFor(status: RebalanceStatus | null): Promise<RebalanceOutcome> {
    if (status === null) return { ...state, stopped: "lost-lease" };
    return finish({ status: "KEEP" }, status === "CANCELLED" ? "cancelled" : "not-running");
  }

  /** Shutdown: record how far we got and release the run, still RUNNING, for whoever starts next. */
  async function letGo(passed: string | null): Promise<RebalanceOutcome> {
    if (passed !== state.cursor && (await step({ cursor: passed })) === null) return { ...state, stopped: "lost-lease" };
    return finish({ status: "KEEP" }, "aborted");
  }
}

/** Retries transient failures with backoff; a CohortError INTERNAL (a caller bug) is not retried. */
async function withRetry<T>(opts: RunRebalanceOptions, what: string, maxAttempts: number, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= maxAttempts || opts.signal?.aborted || isCohortError(err, "INTERNAL")) throw err;
      opts.log?.(`[ring] ${what} failed (attempt ${attempt}), retrying: ${errorMessage(err)}`);
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, opts.retryBaseMs ?? 100, opts.retryMaxMs ?? 5_000)));
    }
  }
}

/** A page of keys after `after`, checked: routing depends on the scan following compareKeys. */
async function fetchPage(opts: RunRebalanceOptions, after: string | null, limit: number): Promise<string[]> {
  const page = await withRetry(opts, `fetching keys after ${after ?? "the start"}`, opts.maxAttempts ?? 5, () =>
    opts.fetchKeys(after, limit),
  );
  let prev = after;
  for (const key of page) {
    if (prev !== null && compareKeys(prev, key) >= 0) {
      throw new CohortError(
        "INTERNAL",
        `fetchKeys returned "${key}" after "${prev}": keys must be distinct, ascending in compareKeys order and after the cursor`,
      );
    }
    prev = key;
  }
  return page.slice(0, limit);
}

async function countRemaining(opts: RunRebalanceOptions, from: HashRing, to: HashRing, cursor: string | null): Promise<number> {
  let count = 0;
  let after = cursor;
  for (;;) {
    const page = await fetchPage(opts, after, 5_000);
    if (page.length === 0) return count;
    for (const key of page) {
      const h = from.hash(key);
      if (from.ownerOfHash(h) !== to.ownerOfHash(h)) count++;
    }
    after = page[page.length - 1]!;
  }
}

function progressOf(run: RebalanceRunInfo): RebalanceProgress {
  return {
    runId: run.id,
    version: run.toVersion,
    moved: run.moved,
    skipped: run.skipped,
    total: run.total,
    cursor: run.cursor,
    status: run.status,
  };
}
