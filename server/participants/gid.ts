// Global transaction ids for PREPARE TRANSACTION. The gid names the transaction and the
// branch so that any row of a shard's pg_prepared_xacts can be matched back to the log;
// the prefix marks it as Cohort's so other systems' prepared transactions are left alone.

export const GID_PREFIX = "cohort";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function formatGid(txId: string, shard: string): string {
  return `${GID_PREFIX}:${txId}:${shard}`;
}

export function parseGid(gid: string): { txId: string; shard: string } | null {
  const parts = gid.split(":");
  if (parts.length !== 3 || parts[0] !== GID_PREFIX) return null;
  const [, txId, shard] = parts as [string, string, string];
  if (!UUID.test(txId) || !shard) return null;
  return { txId, shard };
}

/** A gid is a SQL string literal in PREPARE/COMMIT PREPARED (no parameters allowed there). */
export function gidLiteral(gid: string): string {
  return `'${gid.replaceAll("'", "''")}'`;
}
