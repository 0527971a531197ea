// "Resolve now" for orphan prepared transactions: runs the engine's reconciliation at once
// instead of waiting for its next periodic pass. Audited like every action, refusals included.
import { recordDone, recordRefusal, type AuditBase } from "../audit/audited";
import type { ReconcileReport } from "../engine/recovery";
import { CohortError } from "../errors";
import { getRuntime } from "../runtime";
import type { Operator } from "./actions";

export async function reconcileShardNow(req: {
  shard: string;
  operator: Operator;
  reason: string;
}): Promise<ReconcileReport | null> {
  const runtime = getRuntime();
  const base: AuditBase = {
    user: req.operator,
    action: "reconcile",
    targetType: "shard",
    targetId: req.shard,
    reason: req.reason,
  };
  let report: ReconcileReport | null;
  try {
    if (!runtime.shardNames.includes(req.shard)) {
      throw new CohortError("NOT_FOUND", `no shard named "${req.shard}" (this console knows ${runtime.shardNames.join(", ")})`);
    }
    if (!runtime.engine)
      throw new CohortError("CONFLICT", "this console runs no engine instance: orphans are resolved by the engines' next pass");
    report = (await runtime.engine.reconcile()).find((r) => r.shard === req.shard) ?? null;
  } catch (err) {
    await recordRefusal(runtime.prisma, base, err);
    throw err;
  }
  await recordDone(runtime.prisma, {
    ...base,
    before: null,
    after: report,
    outcome: report && report.errors.length === 0 ? "ok" : "failed",
    message: report
      ? `committed ${report.committed}, rolled back ${report.rolledBack}, left in flight ${report.leftInFlight}`
      : "no report",
  });
  return report;
}
