// "Resolve now" for orphan prepared transactions: runs the engine's reconciliation of one
// shard at once instead of waiting for its next periodic pass. Audited like every action.
import { CohortError } from "../errors";
import { getRuntime } from "../runtime";
import type { Operator } from "./actions";
import { consoleOpsDeps } from "./consoleDeps";

export async function reconcileShardNow(req: { shard: string; operator: Operator; reason: string }) {
  const runtime = getRuntime();
  const deps = consoleOpsDeps();
  if (!runtime.shardNames.includes(req.shard)) throw new CohortError("NOT_FOUND", `no shard named ${req.shard}`);
  if (!runtime.engine)
    throw new CohortError("CONFLICT", "this console runs no engine instance: orphans are resolved by the engines' next pass");
  const report = (await runtime.engine.reconcile()).find((r) => r.shard === req.shard) ?? null;
  await deps.audit({
    user: req.operator,
    action: "reconcile",
    targetType: "shard",
    targetId: req.shard,
    reason: req.reason,
    before: null,
    after: report,
    outcome: report && report.errors.length === 0 ? "ok" : "failed",
    message: report
      ? `committed ${report.committed}, rolled back ${report.rolledBack}, left in flight ${report.leftInFlight}`
      : "no report",
  });
  return report;
}
