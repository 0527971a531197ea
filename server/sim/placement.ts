// Where the bank's accounts live. The workload, the seeding and the tools that address
// accounts ask a placement instead of computing a shard themselves, so the ring (and a
// rebalance moving accounts under a running workload) is one object to pass around.
import { createHasher, HashRing } from "../ring/hashRing";
import { initialRingMembers } from "../ring/initialRing";

export interface AccountPlacement {
  /** The shard that holds the account now (or would hold it, if it does not exist yet). */
  locate(account: string): string;
  /**
   * True while accounts move between shards. Creating accounts then is unsafe: one in the
   * middle of a move is briefly on neither shard and would be created a second time.
   */
  readonly moving: boolean;
  /**
   * Brings the placement up to date after a leg found `account` missing on `notOn`, where
   * `locate` pointed (a rebalance moved it). Absent on fixed placements, which never change.
   */
  refresh?(hint: { account: string; notOn: string }): Promise<void>;
}

/** A ring that never changes: scratch environments, benchmarks and tests that own their shards. */
export function fixedRingPlacement(ring: HashRing): AccountPlacement {
  return { locate: (account) => ring.lookup(account), moving: false };
}

/**
 * The ring a fresh deployment starts with (every shard at weight 1, as ensureRing creates
 * version 1 from the engine's shards), fixed. What seeding and the workload use when the
 * caller has no live router: both then agree without sharing anything.
 */
export async function initialPlacement(shardNames: readonly string[]): Promise<AccountPlacement> {
  return fixedRingPlacement(new HashRing(await createHasher(), { shards: initialRingMembers(shardNames) }));
}

/**
 * account mod n over `shardNames` in the given order. Only for tests and benchmarks that
 * address shards by hand ("account 0 is on shard-a, 1 on shard-b"): the ring cannot
 * promise a particular account a particular shard.
 */
export function moduloPlacement(shardNames: readonly string[]): AccountPlacement {
  const names = [...shardNames];
  return { locate: (account) => names[Number(account) % names.length]!, moving: false };
}
