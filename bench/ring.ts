// Lookups per second of Cohort's ring against the `hashring` npm package (Ketama-compatible,
// MD5 through node:crypto, with a 5000-entry LRU cache in front) in the same run, on the
// same keys, with the same number of points: 8 shards of weight 1, 160 points each (hashring:
// its default 40 vnodes × 4 points per MD5 digest; equal weights leave that unchanged).
// The headline figure uses 200k distinct keys in turn, more than hashring's cache holds, as
// routing many accounts does; a 1000-key set, which its cache holds whole, is reported too.
// Then the ring's quality: imbalance over 1M keys, and the share that moves when a 9th
// shard joins against the ideal 1/9. No database needed.
import { createRequire } from "node:module";
import type { Config } from "../server/config";
import { createHasher, HashRing, type RingMember } from "../server/ring/hashRing";
import { whatIf } from "../server/ring/whatIf";
import { round } from "./stats";

interface HashringLib {
  get(key: string): string;
}
type HashringCtor = new (servers: Record<string, number>, algorithm?: string, options?: Record<string, unknown>) => HashringLib;
const Hashring = createRequire(import.meta.url)("hashring") as HashringCtor;

const SHARDS: RingMember[] = "abcdefgh".split("").map((c) => ({ name: `shard-${c}`, weight: 1 }));
const COLD_KEYS = 200_000;
const HOT_KEYS = 1_000;
const QUALITY_KEYS = 1_000_000;

export async function benchRing(_config: Config, opts: { seconds: number; say: (l: string) => void }) {
  const ring = new HashRing(await createHasher(), { shards: SHARDS });
  const baseline = new Hashring(Object.fromEntries(SHARDS.map((s) => [s.name, s.weight])), "md5");
  const keys = Array.from({ length: COLD_KEYS }, (_, i) => `account:${i}`);
  const hot = keys.slice(0, HOT_KEYS);
  const cohort = (k: string) => ring.lookup(k);
  const other = (k: string) => baseline.get(k);

  opts.say(`ring bench: ${SHARDS.length} shards, ${ring.pointCount} points; warming up`);
  for (const f of [cohort, other]) rate(f, keys, 0.2);

  // Alternate short rounds so drift (frequency scaling, GC, a neighbour) hits both sides.
  const rounds = 4;
  const slice = Math.max(0.05, opts.seconds / (rounds * 4));
  const totals = { cohort: 0, other: 0, hotCohort: 0, hotOther: 0 };
  for (let i = 0; i < rounds; i++) {
    totals.cohort += rate(cohort, keys, slice);
    totals.other += rate(other, keys, slice);
    totals.hotCohort += rate(cohort, hot, slice);
    totals.hotOther += rate(other, hot, slice);
    opts.say(
      `  round ${i + 1}: distinct keys cohort ${fmt(totals.cohort / (i + 1))}/s, hashring ${fmt(totals.other / (i + 1))}/s`,
    );
  }
  const [cold, coldOther, hotRate, hotOther] = [totals.cohort, totals.other, totals.hotCohort, totals.hotOther].map(
    (t) => t / rounds,
  ) as [number, number, number, number];
  opts.say(`  1000 hot keys: cohort ${fmt(hotRate)}/s, hashring ${fmt(hotOther)}/s (all cache hits)`);

  const many = Array.from({ length: QUALITY_KEYS }, (_, i) => `account:${i}`);
  const imbalance = ring.imbalance(many);
  const join = whatIf(ring, { add: { name: "shard-i", weight: 1 } }, { keys: many });
  const counts: Record<string, number> = {};
  for (const k of many) counts[other(k)] = (counts[other(k)] ?? 0) + 1;
  const hashringImbalance = Math.max(...Object.values(counts)) / (QUALITY_KEYS / SHARDS.length);
  opts.say(
    `  imbalance over ${QUALITY_KEYS} keys: cohort ${round(imbalance, 4)}, hashring ${round(hashringImbalance, 4)}; ` +
      `9th shard moves ${round(join.movedShare * 100, 2)}% of the ring, ${round(join.keys!.movedFraction * 100, 2)}% of keys (ideal ${round(100 / 9, 2)}%)`,
  );

  return {
    lookups_per_s: Math.round(cold),
    hashring_lookups_per_s: Math.round(coldOther),
    ratio: round(cold / coldOther, 2),
    hot_lookups_per_s: Math.round(hotRate),
    hot_hashring_lookups_per_s: Math.round(hotOther),
    hot_ratio: round(hotRate / hotOther, 2),
    imbalance: round(imbalance, 4),
    hashring_imbalance: round(hashringImbalance, 4),
    moved_share: round(join.movedShare, 4),
    moved_keys_share: round(join.keys!.movedFraction, 4),
    ideal_share: round(join.idealMovedShare, 4),
  };
}

/** Lookups per second of `f` over `keys` in turn for about `seconds`. */
function rate(f: (k: string) => string, keys: string[], seconds: number): number {
  let n = 0;
  let sink = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  while (performance.now() < until) {
    // Check the clock every 1000 lookups: performance.now() costs about as much as a lookup.
    for (let i = 0; i < 1000; i++) sink += f(keys[(n + i) % keys.length]!).length;
    n += 1000;
  }
  const elapsed = (performance.now() - started) / 1000;
  if (sink < 0) console.log(sink); // keeps the results observable so no work is optimised away
  return n / elapsed;
}

const fmt = (n: number) => (n >= 1e6 ? `${round(n / 1e6, 2)}M` : `${round(n / 1e3, 0)}k`);
