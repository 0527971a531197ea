// Where a key is now. Outside a rebalance that is the ring's owner. During a run (any
// status but DONE: running, cancelled or failed) it is:
//
//   old ring's owner and new ring's owner agree      → that shard
//   key at or before the run's cursor (compareKeys)  → new ring's owner (it has moved)
//   otherwise                                        → old ring's owner (not moved yet)
//
// So a key is read where it is, never where it will be. A RoutingTable is an immutable
// snapshot; processes advance it from ring.rebalance events (withProgress) and reload it on
// ring.changed. Two windows remain, both safe rather than silent: a snapshot that lags the
// executor, and the instant between a move's commit and its cursor write, both report a
// moved key at its old shard. A transaction that goes there finds no row and must abort
// (the bank's legs update 0 rows and abort), then refresh and retry.
//
// New keys are created at locate(key); the executor moves those ahead of its cursor when
// it gets there. One race is left: a key created from a snapshot that still shows the run
// after the executor's last scan stays at its old owner once the run is DONE. Workloads
// with a fixed key set (the bank's accounts) never meet it; ones that create keys should
// not create them while a run finishes, or re-run a sweep.
import type { PrismaClient } from "../db/prisma";
import { CohortError } from "../errors";
import type { HashRing, Hasher } from "./hashRing";
import { atOrBefore, compareKeys } from "./rebalance";
import { unfinishedRun, type RebalanceStatus } from "./rebalanceStore";
import { loadRing, loadRingVersion } from "./ringStore";

export interface RingTransition {
  runId: string;
  /** The ring keys are moving away from (version - 1). */
  from: HashRing;
  cursor: string | null;
  status: Exclude<RebalanceStatus, "DONE">;
}

export class RoutingTable {
  private constructor(
    /** The current ring version: `ring` is where every key ends up. */
    readonly version: number,
    readonly ring: HashRing,
    readonly transition: RingTransition | null,
  ) {}

  static settled(version: number, ring: HashRing): RoutingTable {
    return new RoutingTable(version, ring, null);
  }

  static inTransition(version: number, ring: HashRing, transition: RingTransition): RoutingTable {
    return new RoutingTable(version, ring, transition);
  }

  /** The shard that holds `key` now. */
  locate(key: string): string {
    const t = this.transition;
    if (!t) return this.ring.lookup(key);
    const h = this.ring.hash(key);
    const to = this.ring.ownerOfHash(h);
    const from = t.from.ownerOfHash(h);
    return from === to || atOrBefore(key, t.cursor) ? to : from;
  }

  /** The shard that will hold `key` once the current run is done. */
  target(key: string): string {
    return this.ring.lookup(key);
  }

  /**
   * Follows a run's progress. Events for other runs are ignored (a ring.changed reload
   * brings those), and a cursor never moves backwards: an older event is a no-op.
   */
  withProgress(p: { runId: string; cursor: string | null; status: RebalanceStatus }): RoutingTable {
    const t = this.transition;
    if (!t || t.runId !== p.runId) return this;
    if (p.status === "DONE") return RoutingTable.settled(this.version, this.ring);
    const cursor = p.cursor !== null && (t.cursor === null || compareKeys(p.cursor, t.cursor) > 0) ? p.cursor : t.cursor;
    if (cursor === t.cursor && p.status === t.status) return this;
    return new RoutingTable(this.version, this.ring, { ...t, cursor, status: p.status });
  }
}

/** The routing every process should use now; null before the first ring version exists. */
export async function loadRoutingTable(prisma: PrismaClient, hasher: Hasher): Promise<RoutingTable | null> {
  const current = await loadRing(prisma, hasher);
  if (!current) return null;
  const run = await unfinishedRun(prisma);
  // A run for an older version cannot be unfinished (ringStore refuses the change); if the
  // version moved on between the two reads, the caller's ring.changed reload catches up.
  if (!run || run.status === "DONE" || run.toVersion !== current.version)
    return RoutingTable.settled(current.version, current.ring);
  const from = await loadRingVersion(prisma, hasher, run.fromVersion);
  if (!from) throw new CohortError("INTERNAL", `ring version ${run.fromVersion} of run ${run.id} is missing`);
  return RoutingTable.inTransition(current.version, current.ring, {
    runId: run.id,
    from: from.ring,
    cursor: run.cursor,
    status: run.status,
  });
}
