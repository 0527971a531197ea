// Small display helpers shared by the Ring page's components.

/** Hash positions run over [0, 2^32). */
export const HASH_SPACE = 2 ** 32;

const PALETTE = ["#2456c7", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#0c8599", "#c2255c", "#5f3dc4"];

/**
 * One colour per shard name, by its place among all names in code-unit order (as the ring
 * sorts them): a shard previewed in what-if sorts after the existing ones in the usual
 * naming, so their colours do not change when it appears.
 */
export function shardColors(names: Iterable<string>): Map<string, string> {
  const sorted = [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return new Map(sorted.map((name, i) => [name, PALETTE[i % PALETTE.length]!]));
}

export function percent(share: number | null | undefined, digits = 1): string {
  return share === null || share === undefined ? "–" : `${(share * 100).toFixed(digits)}%`;
}

export function ratio(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : value.toFixed(3);
}

export function hashHex(hash: number): string {
  return `0x${hash.toString(16).padStart(8, "0")}`;
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : n.toLocaleString("en-US");
}
