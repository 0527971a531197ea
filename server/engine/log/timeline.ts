// Timeline records that stand alone, with no state change of their own (a deadlock victim,
// a reconciled prepared transaction). Records of a state change are written by the same
// statement as the change.
import { named, sql } from "../../db/sql";
import { execute, jsonParam, type LogDb } from "./db";

export async function appendRecord(
  db: LogDb,
  rec: { txId: string; type: string; actor: string; shard?: string; data?: unknown; at?: Date },
): Promise<void> {
  await execute(
    db,
    named(
      "cohort.append",
      sql`
      INSERT INTO tx_log (tx_id, type, actor, shard, data, at)
      VALUES (${rec.txId}::uuid, ${rec.type}, ${rec.actor}, ${rec.shard ?? null}, ${jsonParam(rec.data)}::jsonb,
        COALESCE(${rec.at?.toISOString() ?? null}::timestamptz, now()))`,
    ),
  );
}
