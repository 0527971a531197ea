// The process's live view of where accounts are: a RoutingTable kept current by following
// the event stream, used by the workload (AccountPlacement) and by anything else that
// addresses accounts.
//
// Why the stream (XREAD on a duplicated connection) and not only polling the database: a
// rebalance moves keys at hundreds per second, and routing that lags by a poll interval
// sends every transfer on a just-moved account to a shard that no longer has it. Events
// arrive within milliseconds and cost the database nothing per process. They are
// best-effort, though (a failed XADD is swallowed, the stream is capped), so the table is
// also reloaded from the database, which is authoritative: on ring.changed, on a run we do
// not know, after a read error, every `reloadEveryMs`, and on demand when a caller found an
// account missing where the table pointed. A stale table is never unsafe, only slower:
// callers check that the row is there (see sim/transfer.ts), and moves are atomic, so a
// lagging table finds nothing rather than a wrong copy.
import type { Redis } from "ioredis";
import type { PrismaClient } from "../db/prisma";
import { CohortError, errorMessage } from "../errors";
import { decodeEvent, eventsStream, type CohortEvent } from "../live/events";
import type { AccountPlacement } from "../sim/placement";
import type { Hasher } from "./hashRing";
import type { RebalanceStatus } from "./rebalanceStore";
import { loadRoutingTable, RoutingTable } from "./routing";

export interface AccountRouterOptions {
  prisma: PrismaClient;
  redis: Redis;
  hasher: Hasher;
  /** The deployment namespace, whose events stream it follows. */
  namespace: string;
  /** Safety net for missed events. */
  reloadEveryMs?: number;
  /** How long refresh({ account, notOn }) waits for routing to move the account elsewhere. */
  settleMs?: number;
  stream?: string;
  log?: (line: string) => void;
}

const READ_COUNT = 500;
const BLOCK_MS = 5_000;
const RETRY_MS = 1_000;
const SETTLE_POLL_MS = 25;

export class AccountRouter implements AccountPlacement {
  private table: RoutingTable;
  private stopped = false;
  private readonly tail: Redis;
  private loop: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  private constructor(
    private readonly opts: AccountRouterOptions,
    table: RoutingTable,
  ) {
    this.table = table;
    this.tail = opts.redis.duplicate();
    this.tail.on("error", () => undefined); // reconnects by itself; the loop logs read failures
  }

  /** Loads the routing and starts following it; the ring must exist (ensureRing). */
  static async start(opts: AccountRouterOptions): Promise<AccountRouter> {
    const stream = opts.stream ?? eventsStream(opts.namespace);
    // The stream position first, then the table: every event after the table's read is
    // then seen (events from before it are applied again, which changes nothing).
    const [last] = await opts.redis.xrevrange(stream, "+", "-", "COUNT", 1);
    const table = await loadRoutingTable(opts.prisma, opts.hasher);
    if (!table) throw new CohortError("INTERNAL", "no ring version yet: call ensureRing before starting a router");
    const router = new AccountRouter(opts, table);
    router.loop = router.follow(stream, last ? last[0] : "0-0");
    router.timer = setInterval(() => void router.refresh().catch(() => undefined), opts.reloadEveryMs ?? 10_000);
    router.timer.unref();
    return router;
  }

  /** The current snapshot (immutable; take it once for a consistent view). */
  get routing(): RoutingTable {
    return this.table;
  }

  locate(account: string): string {
    return this.table.locate(account);
  }

  get moving(): boolean {
    return this.table.transition !== null;
  }

  /**
   * Reloads from the database. With a hint (a caller found `account` missing on `notOn`),
   * keeps reloading for up to settleMs until routing points elsewhere: the executor records
   * its cursor just after the move commits, and the caller may have noticed in between.
   */
  async refresh(hint?: { account: string; notOn: string }): Promise<void> {
    const deadline = Date.now() + (this.opts.settleMs ?? 1_000);
    for (;;) {
      await this.reloadCoalesced();
      if (!hint || this.locate(hint.account) !== hint.notOn || Date.now() >= deadline) return;
      await sleep(SETTLE_POLL_MS);
    }
  }

  /** Progress of a run executed in this process: applied at once, ahead of its event. */
  advance(progress: { runId: string; cursor: string | null; status: RebalanceStatus }): void {
    this.table = this.table.withProgress(progress);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    // Rejects the blocked XREAD, which ends the loop.
    this.tail.disconnect();
    await this.loop;
  }

  /** One reload at a time; a caller arriving during one gets the next, which starts after it. */
  private reloadCoalesced(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.inFlight) {
      this.inFlight = this.reload().finally(() => (this.inFlight = null));
      return this.inFlight;
    }
    this.queued = this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.reloadCoalesced();
      });
    return this.queued;
  }

  private async reload(): Promise<void> {
    const fresh = await loadRoutingTable(this.opts.prisma, this.opts.hasher);
    if (fresh) this.table = mergeRouting(this.table, fresh);
  }

  private async follow(stream: string, from: string): Promise<void> {
    let lastId = from;
    while (!this.stopped) {
      try {
        const reply = await this.tail.xread("COUNT", READ_COUNT, "BLOCK", BLOCK_MS, "STREAMS", stream, lastId);
        let reload = false;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const event = decodeEvent(fields);
            if (event) reload = this.apply(event) || reload;
          }
        }
        if (reload) await this.reloadCoalesced();
      } catch (err) {
        if (this.stopped) break;
        this.opts.log?.(`[ring] following ${stream} failed, reloading routing: ${errorMessage(err)}`);
        await sleep(RETRY_MS);
        await this.reloadCoalesced().catch(() => undefined);
      }
    }
  }

  /** Applies what an event says by itself; true when the database must be asked. */
  private apply(event: CohortEvent): boolean {
    if (event.type === "ring.changed") return event.version > this.table.version;
    if (event.type !== "ring.rebalance") return false;
    const t = this.table.transition;
    if (t && t.runId === event.runId) {
      this.table = this.table.withProgress(event);
      return false;
    }
    // A run we do not follow. For a newer version its ring.changed was lost: ask. For our
    // version while we are settled, the run is DONE as far as we know, and DONE is final.
    return event.version > this.table.version;
  }
}

/**
 * Combines the table in use with a freshly loaded one without going backwards: a load may
 * have been read before an event that was applied meanwhile. Newer versions win; within a
 * version a settled table wins (a DONE run never becomes unfinished again), and between two
 * views of the same run the cursor furthest along wins.
 */
export function mergeRouting(current: RoutingTable, fresh: RoutingTable): RoutingTable {
  if (fresh.version !== current.version) return fresh.version > current.version ? fresh : current;
  const c = current.transition;
  const f = fresh.transition;
  if (!c) return current;
  if (!f) return fresh;
  if (c.runId !== f.runId) return fresh;
  return fresh.withProgress({ runId: f.runId, cursor: c.cursor, status: f.status });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
