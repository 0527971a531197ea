// Redis key layout of the lock service. Every key of one lock carries the hash tag
// {lock:<key>}, so its scripts touch one cluster slot; the cross-lock indexes are single
// keys written outside the scripts (lockIndex.ts).
import { CohortError } from "../errors";

export interface LockKeys {
  /** Holders, fence and the last operator release. */
  lock: string;
  /** FIFO queue of waiter ids scored by enqueue time. */
  queue: string;
  /** Waiter records: heartbeat deadline, mode, owner, wake-up channel. */
  waiters: string;
}

export function lockKeys(namespace: string, key: string): LockKeys {
  const base = `${namespace}:{lock:${key}}`;
  return { lock: base, queue: `${base}:q`, waiters: `${base}:w` };
}

export interface IndexKeys {
  /** Held grants, member "key\0owner\0token", score 0: ordered by key for prefix listing. */
  held: string;
  /** Queued waiters, member "key\0waiterId", score = heartbeat deadline. */
  waiting: string;
  /** Leadership lease of the deadlock detector. */
  detector: string;
  /** Stream of operator releases (who, why, before and after). */
  audit: string;
  /**
   * Fencing epoch and counter (scripts/includes/lockState.lua): every token comes from it.
   * acquire and forceRelease touch it beside the lock's keys, so on Redis Cluster it would
   * need a slot of its own per lock's slot (not done: Cohort runs on one Redis today).
   */
  fence: string;
}

export function indexKeys(namespace: string): IndexKeys {
  return {
    held: `${namespace}:locks:held`,
    waiting: `${namespace}:locks:waiting`,
    detector: `${namespace}:locks:detector`,
    audit: `${namespace}:locks:audit`,
    fence: `${namespace}:locks:fence`,
  };
}

export const wakeChannel = (namespace: string, serviceId: string) => `${namespace}:locks:wake:${serviceId}`;

const SEP = "\u0000";

export const heldMember = (key: string, owner: string, token: string) => `${key}${SEP}${owner}${SEP}${token}`;

export function parseHeldMember(member: string): { key: string; owner: string; token: string } | null {
  const parts = member.split(SEP);
  return parts.length === 3 ? { key: parts[0]!, owner: parts[1]!, token: parts[2]! } : null;
}

export const waitingMember = (key: string, waiterId: string) => `${key}${SEP}${waiterId}`;

export function parseWaitingMember(member: string): { key: string; waiterId: string } | null {
  const parts = member.split(SEP);
  return parts.length === 2 ? { key: parts[0]!, waiterId: parts[1]! } : null;
}

// Control characters would break the index members; "|" separates fields of the records
// the scripts keep, so owners (transaction ids) may not contain it.
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

export function assertLockKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > 512 || CONTROL.test(key)) {
    throw new CohortError("BAD_REQUEST", "a lock key must be 1-512 characters without control characters");
  }
}

export function assertOwner(owner: unknown): asserts owner is string {
  if (typeof owner !== "string" || owner.length === 0 || owner.length > 200 || CONTROL.test(owner) || owner.includes("|")) {
    throw new CohortError("BAD_REQUEST", "a lock owner must be 1-200 characters without control characters or '|'");
  }
}
