// The first ring of a deployment: every shard the engine knows, at weight 1. Shared by the
// start-up (ensureRing) and by the fixed placement of scratch environments, so an account
// seeded by either is found by the other.
import type { RingMember } from "./hashRing";

export function initialRingMembers(shardNames: readonly string[]): RingMember[] {
  return shardNames.map((name) => ({ name, weight: 1 }));
}
