// Global transaction ids for PREPARE TRANSACTION. The gid names the deployment, the
// transaction and the branch, so that any row of a shard's pg_prepared_xacts can be matched
// back to one coordinator log: `cohort:<namespace>:<txId>:<shard>`. The prefix marks it as
// Cohort's, so other systems' prepared transactions are left alone; the namespace keeps two
// deployments that share a shard database from resolving each other's branches.

export const GID_PREFIX = "cohort";

/** COHORT_NAMESPACE when unset: the demo's keys (`cohort:events`, `cohort:q:phase2`) stay what they were. */
export const DEFAULT_NAMESPACE = "cohort";

/**
 * Gids written before namespaces (`cohort:<txId>:<shard>`) belong to the namespace every
 * deployment had then, so a demo upgraded in place still finishes its old prepared branches.
 */
export const LEGACY_NAMESPACE = "cohort";

/**
 * A namespace is one gid field and one Redis key segment: no ':' (the separator), no LIKE
 * wildcards beyond '_' (escaped where matched), at most 31 characters. With a 31-character
 * shard name the longest gid is 7 + 31 + 1 + 36 + 1 + 31 = 107 bytes, within PostgreSQL's 200.
 */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9_-]{0,30}$/;

/** PostgreSQL refuses a longer gid in PREPARE TRANSACTION (GIDSIZE - 1). */
export const MAX_GID_BYTES = 199;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isNamespace(value: string): boolean {
  return NAMESPACE_PATTERN.test(value);
}

export function formatGid(namespace: string, txId: string, shard: string): string {
  return `${GID_PREFIX}:${namespace}:${txId}:${shard}`;
}

/** The pre-namespace form, recognised for LEGACY_NAMESPACE only; never written any more. */
export function legacyGid(txId: string, shard: string): string {
  return `${GID_PREFIX}:${txId}:${shard}`;
}

/**
 * The transaction and shard of a gid of `namespace`, or null for anything else: another
 * namespace (compared whole, so "a" never matches "a-b"), another system, a malformed gid.
 */
export function parseGid(gid: string, namespace: string): { txId: string; shard: string } | null {
  const parts = gid.split(":");
  if (parts[0] !== GID_PREFIX) return null;
  let txId: string;
  let shard: string;
  if (parts.length === 4 && parts[1] === namespace) {
    [, , txId, shard] = parts as [string, string, string, string];
  } else if (parts.length === 3 && namespace === LEGACY_NAMESPACE) {
    [, txId, shard] = parts as [string, string, string];
  } else {
    return null;
  }
  if (!UUID.test(txId) || !shard) return null;
  return { txId, shard };
}

/**
 * LIKE patterns (with ESCAPE '\') matching every gid `namespace` may own on a shard: its own
 * prefix, plus the legacy form for the legacy namespace. Callers still parse each row: a
 * pattern like `cohort:%` would also match other namespaces' gids.
 */
export function gidLikePatterns(namespace: string): string[] {
  const own = `${escapeLike(`${GID_PREFIX}:${namespace}:`)}%`;
  if (namespace !== LEGACY_NAMESPACE) return [own];
  // cohort:<36-char uuid>:<shard>: the uuid's length excludes `cohort:<namespace>:…` of any
  // namespace (at most 31 characters); parseGid then checks the exact shape.
  return [own, `${escapeLike(`${GID_PREFIX}:`)}${"_".repeat(36)}:%`];
}

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A gid is a SQL string literal in PREPARE/COMMIT PREPARED (no parameters allowed there). */
export function gidLiteral(gid: string): string {
  return `'${gid.replaceAll("'", "''")}'`;
}
