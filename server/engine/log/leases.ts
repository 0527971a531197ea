// Engine instances and their leases (engine_instances). An instance whose lease ran out is
// dead to its peers: they take over its unfinished transactions (claims.ts).
import { sql } from "../../db/sql";
import { execute, queryRows, type LogDb } from "./db";

const seconds = (ms: number) => ms / 1000;

/** Registers a starting instance with a lease of `leaseMs`. */
export async function registerInstance(
  db: LogDb,
  instance: { id: string; host: string; pid: number; leaseMs: number },
): Promise<void> {
  await execute(
    db,
    sql`
      INSERT INTO engine_instances (id, host, pid, lease_expires_at)
      VALUES (${instance.id}::uuid, ${instance.host}, ${instance.pid},
        now() + make_interval(secs => ${seconds(instance.leaseMs)}))`,
  );
}

/** The heartbeat: renews a running instance's lease for another `leaseMs`. */
export async function renewLease(db: LogDb, instanceId: string, leaseMs: number): Promise<void> {
  await execute(
    db,
    sql`
      UPDATE engine_instances SET heartbeat_at = now(), lease_expires_at = now() + make_interval(secs => ${seconds(leaseMs)}::float8)
       WHERE id = ${instanceId}::uuid AND stopped_at IS NULL`,
  );
}

/** Gives the lease up at once, so peers take over whatever the instance leaves. */
export async function stopInstance(db: LogDb, instanceId: string): Promise<void> {
  await execute(db, sql`UPDATE engine_instances SET stopped_at = now(), lease_expires_at = now() WHERE id = ${instanceId}::uuid`);
}

/**
 * Milliseconds until the first lease of another live instance that still owns unfinished
 * work runs out; null when there is none.
 */
export async function nextLeaseLapseMs(db: LogDb, instanceId: string): Promise<number | null> {
  const rows = await queryRows<{ ms: number | null }>(
    db,
    sql`
      SELECT (EXTRACT(EPOCH FROM (min(i.lease_expires_at) - now())) * 1000)::float8 AS ms
      FROM engine_instances i
      WHERE i.id <> ${instanceId}::uuid AND i.stopped_at IS NULL AND i.lease_expires_at > now()
        AND EXISTS (SELECT 1 FROM transactions t WHERE t.coordinator_id = i.id AND t.ended_at IS NULL)`,
  );
  return rows[0]?.ms ?? null;
}

/** The live instances: a CTE for statements that must tell a dead owner from a live one. */
export const LIVE_INSTANCES = sql`SELECT id FROM engine_instances WHERE lease_expires_at > now() AND stopped_at IS NULL`;

export interface DeadInstance {
  id: string;
  host: string;
  pid: number;
}

/**
 * Instances whose lease ran out (or that stopped: stopInstance ends the lease) within the
 * last `withinMs`, leaving out any whose process (host and pid) a live instance shares:
 * grants made in that process may be the live instance's (several engines in one process,
 * or a restart that got the same pid).
 */
export function recentlyDeadInstances(db: LogDb, withinMs: number): Promise<DeadInstance[]> {
  return queryRows<DeadInstance>(
    db,
    sql`
      SELECT d.id::text, d.host, d.pid FROM engine_instances d
      WHERE d.lease_expires_at <= now() AND d.lease_expires_at > now() - make_interval(secs => ${seconds(withinMs)}::float8)
        AND NOT EXISTS (SELECT 1 FROM engine_instances l
                        WHERE l.host = d.host AND l.pid = d.pid AND l.lease_expires_at > now() AND l.stopped_at IS NULL)
      ORDER BY d.lease_expires_at`,
  );
}
