// Admin actions on the ring, as the console runs them: start a rebalance (save the next
// ring version with its run, then execute the run in this process), cancel it, resume it.
// Each is audited (target type "ring", target id the run), refused attempts included; a
// refused start has no run, and names the version it would have made ("version:<n>").
import type { Redis } from "ioredis";
import { recordDone, recordRefusal, runThenAudit, type AuditBase } from "../audit/audited";
import { CohortError } from "../errors";
import { getRebalanceRun, cancelRebalance, resumeRebalance } from "./rebalanceStore";
import { describeChange, toRingChange, type RingChangeInput } from "./ringChange";
import type { RingService } from "./ringService";
import { loadRing, saveRingVersion } from "./ringStore";
import { runView, whyNotApplicable, type RingViewDeps, type RunView } from "./ringView";
import { applyChange } from "./whatIf";

export const RING_TARGET = "ring";

export interface RingActor {
  id: string | null;
  name: string;
}

export interface RingActionDeps extends RingViewDeps {
  redis: Redis;
  service: RingService;
}

export interface StartedRebalance {
  version: number;
  run: RunView;
}

/**
 * Saves the ring that `change` makes of version `expectedVersion` (the one the operator
 * previewed; a newer one is a RING_CONFLICT) with its rebalance run, and starts moving keys.
 */
export async function startRebalance(
  deps: RingActionDeps,
  req: { change: RingChangeInput; expectedVersion: number; reason: string; user: RingActor },
): Promise<StartedRebalance> {
  const base: AuditBase = {
    user: req.user,
    action: "ring.rebalance",
    targetType: RING_TARGET,
    targetId: `version:${req.expectedVersion + 1}`,
    reason: req.reason,
  };
  let before: unknown = null;
  let started: StartedRebalance;
  try {
    const current = await loadRing(deps.prisma, deps.hasher);
    if (!current) throw new CohortError("NOT_FOUND", "there is no ring yet");
    before = { version: current.version, members: current.members };
    if (current.version !== req.expectedVersion) {
      throw new CohortError(
        "RING_CONFLICT",
        `the ring is at version ${current.version}, not ${req.expectedVersion}: reload and preview again`,
        {
          details: { reason: "stale-version", expectedVersion: req.expectedVersion, currentVersion: current.version },
        },
      );
    }
    const members = applyChange(current.members, toRingChange(req.change));
    // Only shards the engine knows: a ring naming another would route keys nowhere.
    const blocked = await whyNotApplicable(deps, members);
    if (blocked) throw blocked;
    const saved = await saveRingVersion(
      { prisma: deps.prisma, redis: deps.redis, namespace: deps.service.namespace },
      members,
      { actor: req.user.name, reason: `${describeChange(req.change)}: ${req.reason}` },
      current.version,
    );
    if (!saved.runId) throw new CohortError("INTERNAL", `ring version ${saved.version} was saved without a rebalance run`);
    // This process routes by the new version (and the run's cursor) before a key moves.
    await deps.service.router.refresh();
    void deps.service.execute(saved.runId);
    const run = await getRebalanceRun(deps.prisma, saved.runId);
    if (!run) throw new CohortError("INTERNAL", `rebalance run ${saved.runId} vanished`);
    started = { version: saved.version, run: runView(run) };
  } catch (err) {
    await recordRefusal(deps.prisma, { ...base, before }, err);
    throw err;
  }
  // Audited on the run it made, which cancel and resume are audited on too.
  await recordDone(deps.prisma, {
    ...base,
    targetId: started.run.id,
    outcome: "ok",
    before,
    after: { version: started.version, change: req.change, runId: started.run.id },
  });
  return started;
}

/** Stops a running rebalance after the key it is moving; routing stays split at its cursor. */
export async function cancelRun(deps: RingActionDeps, req: { runId: string; reason: string; user: RingActor }): Promise<RunView> {
  return changeRun(deps, req, "ring.rebalance.cancel", async () =>
    cancelRebalance({ prisma: deps.prisma, redis: deps.redis, namespace: deps.service.namespace }, req.runId, {
      actor: req.user.name,
      reason: req.reason,
    }),
  );
}

/** Makes a cancelled or failed rebalance RUNNING again and executes it here. */
export async function resumeRun(deps: RingActionDeps, req: { runId: string; reason: string; user: RingActor }): Promise<RunView> {
  return changeRun(deps, req, "ring.rebalance.resume", async () => {
    const run = await resumeRebalance({ prisma: deps.prisma, redis: deps.redis, namespace: deps.service.namespace }, req.runId, {
      actor: req.user.name,
      reason: req.reason,
    });
    void deps.service.execute(run.id);
    return run;
  });
}

async function changeRun(
  deps: RingActionDeps,
  req: { runId: string; reason: string; user: RingActor },
  action: string,
  work: () => Promise<Parameters<typeof runView>[0]>,
): Promise<RunView> {
  const base: AuditBase = { user: req.user, action, targetType: RING_TARGET, targetId: req.runId, reason: req.reason };
  return runThenAudit(deps.prisma, base, async () => {
    const run = await getRebalanceRun(deps.prisma, req.runId);
    if (!run) throw new CohortError("NOT_FOUND", `no rebalance run ${req.runId}`);
    const before = runView(run);
    const after = runView(await work());
    return { result: after, before: statusOf(before), after: statusOf(after) };
  });
}

function statusOf(run: RunView) {
  return { status: run.status, moved: run.moved, skipped: run.skipped, total: run.total, cursor: run.cursor };
}
