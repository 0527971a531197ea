// The evidence of one-phase commits, kept on each shard (DESIGN.md §2). A one-phase commit's
// commit point is the shard's own COMMIT, and its coordinator-log record is written after
// it: a coordinator that dies in between would leave committed work the log never heard of,
// and engine.outcome() answering "no record: never committed" would invite the application
// to do it twice. So the COMMIT carries a row here, in the same local transaction and the
// same round trip; the engine's reconciliation copies rows older than a few seconds into the
// log (most already have their record) and deletes them, so the table stays small.

import { isNamespace } from "./gid";

/** One row per one-phase commit not yet known to be in the log. Namespaced: deployments may share a shard. */
export const ONE_PHASE_TABLE = "cohort_one_phase";

export const ONE_PHASE_TABLE_DDL = `CREATE TABLE IF NOT EXISTS ${ONE_PHASE_TABLE} (
  tx_id uuid PRIMARY KEY,
  namespace text NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT now()
)`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The statement that commits a branch in one phase: the evidence row, then COMMIT, as one
 * simple query (one round trip). Values are inlined because the simple query protocol has
 * no parameters; both are checked first (a uuid, and a namespace as isNamespace allows).
 */
export function onePhaseCommitSql(txId: string, namespace: string): string {
  if (!UUID.test(txId)) throw new Error(`not a transaction id: ${JSON.stringify(txId)}`);
  if (!isNamespace(namespace)) throw new Error(`not a namespace: ${JSON.stringify(namespace)}`);
  return `INSERT INTO ${ONE_PHASE_TABLE} (tx_id, namespace) VALUES ('${txId}', '${namespace}'); COMMIT`;
}
