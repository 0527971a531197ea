// The locks of dead engine instances. Since begin is lazy, a transaction that was ACTIVE (or
// had just committed in one phase) when its instance died has no open row in the log, so
// recovery never finishes it and nothing would release its locks before their leases ran
// out (timeout + lockGraceMs). A live instance sweeps them once per dead instance: every
// lock held by the dead instance's process (its grants carry `host:pid`, processHost) whose
// owner has no open row goes. Locks of transactions with an open row stay: recovery
// finishes those and releases their locks itself, and a prepared branch must stay locked
// until its outcome (strict two-phase locking).
//
// A sweep reads the whole held-lock index (server/locks/deadHolders.ts); that is acceptable
// because it happens only when an instance dies (and once at start, for instances that
// died within the last `windowMs`), never on a commit's path.
import { errorMessage } from "../errors";
import { processHost, releaseHeldBy } from "../locks/deadHolders";
import type { LockService } from "../locks/lockService";
import type { LogDb } from "./log/db";
import { recentlyDeadInstances } from "./log/leases";
import { openTransactionIds } from "./log/reads";

const HOUR_MS = 3_600_000;

export class DeadInstanceLocks {
  /** Dead instances already swept (those still within the window). */
  private swept = new Set<string>();

  constructor(
    private readonly deps: {
      db: LogDb;
      locks: LockService;
      log: (line: string) => void;
      /** How far back a starting instance looks for dead instances to sweep. */
      windowMs?: number;
    },
  ) {}

  private get windowMs(): number {
    return this.deps.windowMs ?? HOUR_MS;
  }

  /**
   * Releases the locks no logged transaction needs of the instances that died since the last
   * call. Never throws: a sweep that failed is tried again on the next call. Returns the
   * number of locks released.
   */
  async sweep(): Promise<number> {
    try {
      const dead = await recentlyDeadInstances(this.deps.db, this.windowMs);
      // Never this process's own grants, whatever the instance rows say (a lock service
      // whose host does not follow the engine's host and pid).
      const fresh = dead.filter((d) => !this.swept.has(d.id) && processHost(d.host, d.pid) !== this.deps.locks.host);
      // Instances that left the window are not returned any more: forget them.
      this.swept = new Set(dead.filter((d) => this.swept.has(d.id)).map((d) => d.id));
      if (fresh.length === 0) return 0;
      const { released, kept } = await releaseHeldBy(
        this.deps.locks,
        fresh.map((d) => processHost(d.host, d.pid)),
        {
          // Asked again once the locks are listed: a process that came back, or a new instance
          // with the same host and pid, may have made some of them.
          stillDead: async (hosts) => {
            const again = new Set(
              (await recentlyDeadInstances(this.deps.db, this.windowMs)).map((d) => processHost(d.host, d.pid)),
            );
            return new Set(hosts.filter((h) => again.has(h)));
          },
          keep: (owners) => openTransactionIds(this.deps.db, owners),
        },
      );
      for (const d of fresh) this.swept.add(d.id);
      if (released.length > 0 || kept > 0) {
        this.deps.log(
          `released ${released.length} lock(s) of dead instance(s) ${fresh.map((d) => d.id).join(", ")}` +
            (kept > 0 ? `; ${kept} stay with transactions recovery finishes` : ""),
        );
      }
      return released.length;
    } catch (err) {
      this.deps.log(`releasing the locks of dead instances: ${errorMessage(err)}`);
      return 0;
    }
  }
}
