// Locks left behind by a process that died (DESIGN.md §3). Every grant records the `host`
// of the lock service that made it; when the process behind a host is known to be dead,
// its locks can be given back before their leases run out, except those whose owner
// something else still answers for (e.g. a transaction recovery has yet to finish, whose
// prepared branches must stay locked until their outcome: strict two-phase locking).
//
// This reads the whole held-lock index and inspects every lock in it. That is acceptable
// only because it runs when a process has died, never on a lock's own path.
import os from "node:os";
import type { LockService } from "./lockService";
import type { HeldLock, LockHolder } from "./types";

/**
 * The `host` a lock service records by default, and the one an engine's lock service uses
 * (createEngine.ts): what ties a grant to an `engine_instances` row (host, pid).
 */
export const processHost = (host: string = os.hostname(), pid: number = process.pid): string => `${host}:${pid}`;

export interface ReleaseHeldByOptions {
  /**
   * Of the owners that hold locks of the dead hosts, those whose locks must stay. Called
   * after the locks are listed, so that whatever it reads is at least as new as the list.
   */
  keep(owners: string[]): Promise<ReadonlySet<string>>;
  /**
   * Of the hosts that hold locks, those still known to be dead, asked again after the
   * locks are listed: a grant listed before a host is confirmed dead is one its dead
   * process made. Default: all of them.
   */
  stillDead?(hosts: string[]): Promise<ReadonlySet<string>>;
}

export interface ReleaseHeldByResult {
  /** The grants given back. */
  released: (LockHolder & { key: string })[];
  /** Grants of those hosts that stayed (their owner is kept, or their host came back). */
  kept: number;
}

/**
 * Gives back every lock held under one of `hosts` whose owner `keep` does not keep, with the
 * ordinary compare-and-delete on the grant's token: a grant that changed hands meanwhile is
 * left alone, and the fence moves on as for any release.
 *
 * Grants come from the held-lock index and, for grants too young to have been indexed when
 * their process died (lockIndex.ts), from the locks that have waiters right now.
 */
export async function releaseHeldBy(
  locks: LockService,
  hosts: Iterable<string>,
  opts: ReleaseHeldByOptions,
): Promise<ReleaseHeldByResult> {
  const wanted = new Set(hosts);
  if (wanted.size === 0) return { released: [], kept: 0 };
  const found = new Map<string, LockHolder & { key: string }>();
  const consider = (key: string, h: LockHolder) => {
    if (wanted.has(h.host)) found.set(`${key}\u0000${h.owner}\u0000${h.token}`, { ...h, key });
  };
  let cursor: string | null = null;
  do {
    const page: { locks: HeldLock[]; nextCursor: string | null } = await locks.listHeld({ cursor, limit: 500 });
    for (const l of page.locks) consider(l.key, l);
    cursor = page.nextCursor;
  } while (cursor);
  for (const state of await locks.waitedLocks()) for (const h of state.holders) consider(state.key, h);
  if (found.size === 0) return { released: [], kept: 0 };

  const candidates = [...found.values()];
  const dead = opts.stillDead ? await opts.stillDead([...new Set(candidates.map((c) => c.host))]) : wanted;
  const ofDead = candidates.filter((c) => dead.has(c.host));
  const kept = ofDead.length ? await opts.keep([...new Set(ofDead.map((c) => c.owner))]) : new Set<string>();
  const toRelease = ofDead.filter((c) => !kept.has(c.owner));
  const results = await Promise.all(
    toRelease.map((c) =>
      locks.release({
        key: c.key,
        owner: c.owner,
        token: c.token,
        mode: c.mode,
        acquiredAt: c.acquiredAt,
        expiresAt: c.expiresAt,
      }),
    ),
  );
  return { released: toRelease.filter((_, i) => results[i]), kept: candidates.length - toRelease.length };
}
