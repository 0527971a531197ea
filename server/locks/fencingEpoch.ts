// The durable source of fencing epochs (scripts/includes/lockState.lua): a sequence in the
// coordinator database (migration 0007_fencing_epoch). It is asked only when Redis has no
// epoch (it lost its data) or an epoch's 10^9 tokens are used up, never per grant. A
// sequence never hands out a value twice, whatever happens to Redis or to any clock, so
// every epoch is above every earlier one and so is every token issued under it.
import type pg from "pg";

export const FENCING_EPOCH_SEQUENCE = "cohort_fencing_epoch";

/** An `epochSource` for LockService on the coordinator database's pool. */
export function pgFencingEpochSource(pool: pg.Pool): () => Promise<number> {
  return async () => {
    const { rows } = await pool.query<{ epoch: string }>(`SELECT nextval('${FENCING_EPOCH_SEQUENCE}')::text AS epoch`);
    return Number(rows[0]!.epoch);
  };
}
