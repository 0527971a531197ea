// In-doubt transactions (DESIGN.md §2): prepared branches and no outcome delivered for
// longer than a threshold. Prepared transactions hold row locks and block VACUUM on their
// shard, so each one is shown with why it is stuck and for how long.
import type { PrismaClient } from "../db/prisma";
import { sql } from "../db/sql";
import { queryRows } from "../engine/log/db";
import { inDoubtStateSql } from "../engine/log/stateSql";
import { errorMessage } from "../errors";
import { DEFAULT_NAMESPACE, formatGid } from "../participants/gid";
import type { PostgresShard } from "../participants/postgresShard";
import { allowedActions, type ActionOption } from "./guards";
import { readSnapshot, type TxSnapshot } from "./snapshot";

export const DEFAULT_IN_DOUBT_MS = 10_000;

export type InDoubtCause = "phase2-dead-lettered" | "coordinator-lost" | "shard-unreachable" | "coordinator-stalled";

export interface InDoubtTx {
  id: string;
  label: string;
  status: string;
  decision: string | null;
  startedAt: Date;
  /** Time since the coordinator log last recorded progress. */
  stalledMs: number;
  cause: InDoubtCause;
  why: string;
  shards: string[];
}

export interface InDoubtFilter {
  thresholdMs?: number;
  shard?: string;
  decision?: "COMMIT" | "ABORT" | "none";
  olderThanSeconds?: number;
  limit?: number;
}

type Row = {
  id: string;
  label: string;
  status: string;
  decision: string | null;
  started_at: Date;
  stalled_ms: number;
  coordinator_id: string | null;
  owner_live: boolean;
  lease_expires_at: Date | null;
  shards: string[];
  errors: (string | null)[];
  dead: boolean[];
};

export async function listInDoubt(prisma: PrismaClient, filter: InDoubtFilter = {}): Promise<InDoubtTx[]> {
  const thresholdMs = Math.max(
    filter.olderThanSeconds ? filter.olderThanSeconds * 1000 : 0,
    filter.thresholdMs ?? DEFAULT_IN_DOUBT_MS,
  );
  const decision = filter.decision ?? null;
  const rows = await queryRows<Row>(
    prisma,
    sql`
    SELECT t.id::text, t.label, t.status::text AS status, t.decision::text AS decision, t.started_at,
      (EXTRACT(EPOCH FROM (now() - t.updated_at)) * 1000)::float8 AS stalled_ms,
      t.coordinator_id::text AS coordinator_id,
      (i.id IS NOT NULL AND i.lease_expires_at > now() AND i.stopped_at IS NULL) AS owner_live,
      i.lease_expires_at,
      COALESCE(array_agg(b.shard ORDER BY b.shard) FILTER (WHERE b.shard IS NOT NULL), '{}') AS shards,
      COALESCE(array_agg(b.last_error ORDER BY b.shard) FILTER (WHERE b.shard IS NOT NULL), '{}') AS errors,
      COALESCE(array_agg(b.dead_lettered_at IS NOT NULL ORDER BY b.shard) FILTER (WHERE b.shard IS NOT NULL), '{}') AS dead
    FROM transactions t
    LEFT JOIN engine_instances i ON i.id = t.coordinator_id
    LEFT JOIN branches b ON b.tx_id = t.id AND b.resolved_at IS NULL
    WHERE t.ended_at IS NULL
      AND ${inDoubtStateSql("t")}
      AND t.updated_at < now() - make_interval(secs => ${thresholdMs / 1000})
      AND (${filter.shard ?? null}::text IS NULL OR EXISTS (
        SELECT 1 FROM branches fb WHERE fb.tx_id = t.id AND fb.shard = ${filter.shard ?? null}::text AND fb.resolved_at IS NULL))
      AND (${decision}::text IS NULL
        OR (${decision}::text = 'none' AND t.decision IS NULL)
        OR t.decision::text = ${decision}::text)
    GROUP BY t.id, i.id
    ORDER BY t.started_at
    LIMIT ${filter.limit ?? 500}`,
  );
  return rows.map((r) => {
    const failing = r.shards.filter((_, i) => r.errors[i]);
    let cause: InDoubtCause;
    let why: string;
    const dead = r.shards.filter((_, i) => r.dead[i]);
    if (dead.length > 0) {
      // Past the delivery limit: delivery goes on (capped backoff), the mark is the alarm.
      cause = "phase2-dead-lettered";
      why = `phase-2 delivery to ${dead.join(", ")} was dead-lettered${
        r.errors[r.shards.indexOf(dead[0]!)] ? ` (last error: ${r.errors[r.shards.indexOf(dead[0]!)]})` : ""
      }; delivery keeps being retried and ends it once the shard answers (retry here to try now)`;
    } else if (!r.owner_live) {
      cause = "coordinator-lost";
      why = r.coordinator_id
        ? `coordinator ${r.coordinator_id} lost its lease${r.lease_expires_at ? ` at ${r.lease_expires_at.toISOString()}` : ""}`
        : "no coordinator owns it (a forced decision waiting for an engine)";
    } else if (failing.length > 0) {
      cause = "shard-unreachable";
      why = failing.map((s) => `${s}: ${r.errors[r.shards.indexOf(s)]}`).join("; ");
    } else {
      cause = "coordinator-stalled";
      why = `coordinator ${r.coordinator_id} holds its lease but logged no progress for ${Math.round(r.stalled_ms / 1000)} s`;
    }
    return {
      id: r.id,
      label: r.label,
      status: r.status,
      decision: r.decision,
      startedAt: r.started_at,
      stalledMs: Math.round(r.stalled_ms),
      cause,
      why,
      shards: r.shards,
    };
  });
}

export interface ShardBranchState {
  shard: string;
  gid: string;
  /** What the shard says right now: its prepared transaction exists, is gone, or the shard cannot be asked. */
  state: "prepared" | "absent" | "unreachable";
  detail: string | null;
}

export interface ResolutionView {
  tx: TxSnapshot;
  shards: ShardBranchState[];
  actions: ActionOption[];
}

/** The coordinator's view and every shard's, side by side, with the actions the guards allow. */
export async function resolutionView(
  prisma: PrismaClient,
  shards: Map<string, PostgresShard>,
  txId: string,
): Promise<ResolutionView> {
  const tx = await readSnapshot(prisma, txId);
  const states = await Promise.all(
    tx.branches.map(async (b): Promise<ShardBranchState> => {
      const shard = shards.get(b.shard);
      const gid = shard ? shard.gid(txId) : formatGid(namespaceOf(shards), txId, b.shard);
      if (!shard) return { shard: b.shard, gid, state: "unreachable", detail: "shard not configured in this console" };
      try {
        return { shard: b.shard, gid, state: (await shard.isPrepared(txId)) ? "prepared" : "absent", detail: null };
      } catch (err) {
        return { shard: b.shard, gid, state: "unreachable", detail: errorMessage(err) };
      }
    }),
  );
  const actions = allowedActions({
    status: tx.status,
    decision: tx.decision,
    endedAt: tx.endedAt,
    onePhase: tx.onePhase,
    branches: tx.branches,
    branchShards: states.filter((s) => s.state !== "unreachable").map((s) => s.shard),
    preparedOnShards: Object.fromEntries(states.map((s) => [s.shard, s.state === "prepared"])),
  });
  return { tx, shards: states, actions };
}

export interface OrphanPrepared {
  shard: string;
  gid: string;
  txId: string | null;
  preparedAt: Date;
  resolution: string;
}

/**
 * Cohort-prefixed prepared transactions that the log knows nothing about. Presumed abort
 * says they roll back; reconciliation does that on its next pass, and the console can ask
 * for it now.
 */
export async function listOrphans(
  prisma: PrismaClient,
  shards: PostgresShard[],
): Promise<{ orphans: OrphanPrepared[]; errors: string[] }> {
  const orphans: OrphanPrepared[] = [];
  const errors: string[] = [];
  for (const shard of shards) {
    try {
      const prepared = await shard.listPrepared();
      const ids = prepared.flatMap((p) => shard.parseGid(p.gid)?.txId ?? []);
      const known = new Set(
        (await prisma.transaction.findMany({ where: { id: { in: ids } }, select: { id: true } })).map((t) => t.id),
      );
      for (const p of prepared) {
        const parsed = shard.parseGid(p.gid);
        if (parsed && known.has(parsed.txId)) continue;
        orphans.push({
          shard: shard.name,
          gid: p.gid,
          txId: parsed?.txId ?? null,
          preparedAt: p.preparedAt,
          resolution: parsed
            ? "no record in the coordinator log: presumed abort, ROLLBACK PREPARED"
            : "malformed Cohort gid: left for a person",
        });
      }
    } catch (err) {
      errors.push(`${shard.name}: ${errorMessage(err)}`);
    }
  }
  return { orphans, errors };
}

export interface HeuristicIncident {
  txId: string;
  at: Date;
  shard: string | null;
  detail: unknown;
}

/** Branches a shard resolved outside Cohort: shown for a person, never offered as buttons. */
export async function listHeuristicIncidents(prisma: PrismaClient, limit = 100): Promise<HeuristicIncident[]> {
  const rows = await prisma.logRecord.findMany({
    where: { type: "incident.heuristic" },
    orderBy: { id: "desc" },
    take: limit,
    select: { txId: true, at: true, shard: true, data: true },
  });
  return rows.map((r) => ({ txId: r.txId, at: r.at, shard: r.shard, detail: r.data }));
}

/** The console's shards all carry the deployment's namespace; a branch on a shard it lacks is named with it too. */
function namespaceOf(shards: Map<string, PostgresShard>): string {
  return shards.values().next().value?.namespace ?? DEFAULT_NAMESPACE;
}
