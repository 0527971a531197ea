// The console's side of the queues (DESIGN.md §4): figures of every stream and RabbitMQ
// queue, one stream's pending entries, dead letters and time series, and the operator
// actions on entries. Each action is guarded on the server and audited with the user and a
// reason, refusals included. Phase-2 entries stand for a logged decision, so their guards
// ask the coordinator log: an entry is never requeued against the log's decision, nor for
// a transaction that has already ended.
import type { Redis } from "ioredis";
import { runThenAudit, type AuditBase, type AuditedResult } from "../audit/audited";
import type { PrismaClient } from "../db/prisma";
import { markQueued, type QueueMark } from "../engine/log/delivery";
import { branchState } from "../engine/log/reads";
import { isUnresolvedBranch } from "../engine/log/states";
import { CohortError, isCohortError } from "../errors";
import { collectFigures, listStreams } from "../queues/figures";
import { decodePhase2, type Phase2Entry } from "../queues/phase2Entries";
import {
  claimTo,
  listDeadLetters,
  listPending,
  moveToDead,
  purgeDead,
  readDeadLetter,
  readPending,
  requeue,
  retryNow,
} from "../queues/queueOps";
import type { RabbitDepths } from "../queues/rabbit";
import { readSeries } from "../queues/sampler";
import { registryKey } from "../queues/streamQueue";
import type { DeadLetter, PendingEntry, QueueSample, RabbitQueueFigures, StreamFigures } from "../queues/types";
import { getRuntime } from "../runtime";
import type { Operator } from "./actions";

export interface QueueOpsDeps {
  prisma: PrismaClient;
  redis: Redis;
  namespace: string;
  reclaimIdleMs: number;
  rabbit: RabbitDepths | null;
}

export function consoleQueueDeps(): QueueOpsDeps {
  const rt = getRuntime();
  return { prisma: rt.prisma, redis: rt.redis, ...rt.queues };
}

export interface QueueOverview {
  /** When the figures were read, and how long reading every stream took. */
  collectedAt: number;
  collectMs: number;
  streams: StreamFigures[];
  /** null when no RabbitMQ broker is configured. */
  rabbit: RabbitQueueFigures[] | null;
}

export async function queueOverview(deps: QueueOpsDeps): Promise<QueueOverview> {
  const started = performance.now();
  const [streams, rabbit] = await Promise.all([
    listStreams(deps.redis, deps.namespace).then((names) => collectFigures(deps.redis, names)),
    deps.rabbit ? deps.rabbit.collect() : Promise.resolve(null),
  ]);
  return { collectedAt: Date.now(), collectMs: Math.round((performance.now() - started) * 10) / 10, streams, rabbit };
}

export interface GroupPending {
  group: string;
  entries: PendingEntry[];
}

export interface QueueDetail {
  figures: StreamFigures;
  pending: GroupPending[];
  dead: { total: number; entries: DeadLetter[] };
  series: QueueSample[];
}

export async function queueDetail(deps: QueueOpsDeps, stream: string): Promise<QueueDetail> {
  await assertKnownStream(deps, stream);
  const [figures] = await collectFigures(deps.redis, [stream]);
  const [pending, dead, series] = await Promise.all([
    Promise.all(figures!.groups.map(async (g) => ({ group: g.name, entries: await listPending(deps.redis, stream, g.name) }))),
    listDeadLetters(deps.redis, stream),
    readSeries(deps.redis, stream),
  ]);
  return { figures: figures!, pending, dead, series };
}

/** One SISMEMBER: the registry lists the streams of this console's namespace only. */
async function assertKnownStream(deps: QueueOpsDeps, stream: string): Promise<void> {
  if (await deps.redis.sismember(registryKey(deps.namespace), stream)) return;
  const known = await listStreams(deps.redis, deps.namespace);
  throw new CohortError("NOT_FOUND", `no queue stream "${stream}" (known: ${known.join(", ") || "none yet"})`);
}

/** The stream's consumer groups, by name (one XINFO GROUPS); refuses a group it does not have. */
async function assertKnownGroup(deps: QueueOpsDeps, stream: string, group: string): Promise<string[]> {
  // A registered stream that no longer exists (FLUSHALL, a restart without persistence) has no groups.
  const reply = await deps.redis.call("XINFO", "GROUPS", stream).catch(() => []);
  const groups = infoRecords(reply).map((g) => String(g.get("name")));
  if (!groups.includes(group)) throw new CohortError("NOT_FOUND", `stream ${stream} has no consumer group "${group}"`);
  return groups;
}

/** The group's consumers and how long each has been silent (one XINFO CONSUMERS). */
async function groupConsumers(deps: QueueOpsDeps, stream: string, group: string): Promise<{ name: string; idleMs: number }[]> {
  const reply = await deps.redis.call("XINFO", "CONSUMERS", stream, group);
  return infoRecords(reply).map((c) => ({ name: String(c.get("name")), idleMs: Number(c.get("idle") ?? 0) }));
}

/** XINFO GROUPS and CONSUMERS answer a list of flat [field, value, …] arrays. */
function infoRecords(reply: unknown): Map<string, unknown>[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((flat: unknown) => {
    const record = new Map<string, unknown>();
    if (Array.isArray(flat)) for (let i = 0; i + 1 < flat.length; i += 2) record.set(String(flat[i]), flat[i + 1]);
    return record;
  });
}

interface EntryAction {
  stream: string;
  group: string;
  id: string;
  operator: Operator;
  reason: string;
}

/** What the console shows after an action. */
export interface QueueActionResult {
  ok: true;
  message: string;
}

/** Every queue action is audited on its entry, `<stream>/<id>`, whatever its outcome. */
function entryAudit(a: { stream: string; operator: Operator; reason: string }, action: string, id: string): AuditBase {
  return {
    user: { id: a.operator.id, name: a.operator.name },
    action,
    targetType: "queue-entry",
    targetId: `${a.stream}/${id}`,
    reason: a.reason,
  };
}

const done = (before: unknown, after: unknown, message: string): AuditedResult<QueueActionResult> => ({
  result: { ok: true, message },
  before,
  after,
  message,
});

/** Retry now: the entry is delivered again at once, by its owner or, if that is gone, by any live consumer. */
export function retryEntry(deps: QueueOpsDeps, a: EntryAction): Promise<QueueActionResult> {
  return runThenAudit(deps.prisma, entryAudit(a, "queue.retryNow", a.id), async () => {
    await assertKnownStream(deps, a.stream);
    await assertKnownGroup(deps, a.stream, a.group);
    const before = await readPending(deps.redis, a.stream, a.group, a.id);
    if (!before) throw notPending(a);
    const owner = await retryNow(deps.redis, a.stream, a.group, a.id, deps.reclaimIdleMs);
    return done(before, { due: "now", owner }, `entry ${a.id} is due now (owner ${owner})`);
  });
}

/**
 * Claim: hands a pending entry to another consumer of its group, e.g. away from one that is
 * stuck. Only to a consumer that is alive (it read or claimed within the reclaim threshold):
 * an entry given to a dead consumer would only wait for the reclaim.
 */
export function claimEntry(deps: QueueOpsDeps, a: EntryAction & { consumer: string }): Promise<QueueActionResult> {
  return runThenAudit(deps.prisma, entryAudit(a, "queue.claim", a.id), async () => {
    await assertKnownStream(deps, a.stream);
    await assertKnownGroup(deps, a.stream, a.group);
    const consumers = await groupConsumers(deps, a.stream, a.group);
    const target = consumers.find((c) => c.name === a.consumer);
    if (!target) {
      throw new CohortError(
        "NOT_FOUND",
        `group ${a.group} has no consumer "${a.consumer}" (known: ${consumers.map((c) => c.name).join(", ") || "none"})`,
      );
    }
    if (target.idleMs >= deps.reclaimIdleMs) {
      throw new CohortError(
        "CONFLICT",
        `consumer ${a.consumer} has read nothing for ${Math.round(target.idleMs / 1000)} s, past the ${Math.round(deps.reclaimIdleMs / 1000)} s reclaim threshold: it looks dead, and the entry would only wait there`,
      );
    }
    const before = await readPending(deps.redis, a.stream, a.group, a.id);
    if (!before) throw notPending(a);
    if (before.consumer === a.consumer) throw new CohortError("CONFLICT", `entry ${a.id} is already ${a.consumer}'s`);
    // Past the longest phase-2 backoff (10 s) where the threshold allows, and 2 s short of it.
    await claimTo(deps.redis, a.stream, a.group, a.id, a.consumer, Math.max(0, deps.reclaimIdleMs - 2_000));
    return done(before, { consumer: a.consumer }, `entry ${a.id} moved from ${before.consumer} to ${a.consumer}, due now`);
  });
}

/** Moves a pending entry to the dead letters; a phase-2 entry marks its branch as waiting for a person. */
export function deadLetterEntry(deps: QueueOpsDeps, a: EntryAction): Promise<QueueActionResult> {
  return runThenAudit(deps.prisma, entryAudit(a, "queue.deadLetter", a.id), async () => {
    await assertKnownStream(deps, a.stream);
    const groups = await assertKnownGroup(deps, a.stream, a.group);
    const before = await readPending(deps.redis, a.stream, a.group, a.id);
    if (!before) throw notPending(a);
    const moved = await moveToDead(deps.redis, a.stream, a.group, a.id, {
      error: `moved by ${a.operator.name}: ${a.reason}`,
      by: `operator:${a.operator.name}`,
      // Another group may still need the entry: only a stream with one group lets it go.
      deleteFromStream: groups.length === 1,
    });
    const job = before.fields ? decodePhase2(before.fields) : null;
    if (job) await markBranch(deps, job, "dead-lettered", a.operator, { deadId: moved.deadId, reason: a.reason });
    return done(before, moved, `entry ${a.id} moved to the dead letters as ${moved.deadId} after ${moved.deliveries} deliveries`);
  });
}

/** Puts a dead letter back on its stream; phase-2 entries only while the log still wants that delivery. */
export function requeueDeadLetter(
  deps: QueueOpsDeps,
  a: { stream: string; deadId: string; operator: Operator; reason: string },
): Promise<QueueActionResult> {
  return runThenAudit(deps.prisma, entryAudit(a, "queue.requeue", a.deadId), async () => {
    await assertKnownStream(deps, a.stream);
    const before = await readDeadLetter(deps.redis, a.stream, a.deadId);
    if (!before) {
      throw new CohortError(
        "NOT_FOUND",
        `dead letter ${a.deadId} is not in ${a.stream}'s dead letters: requeued or purged meanwhile`,
      );
    }
    const job = decodePhase2(before.fields);
    if (job) await assertDeliveryWanted(deps, job);
    const id = await requeue(deps.redis, a.stream, a.deadId);
    if (job) await markBranch(deps, job, "requeued", a.operator, { id, reason: a.reason });
    return done(before, { id }, `dead letter ${a.deadId} is back on ${a.stream} as ${id}`);
  });
}

/** Admin only (the route checks the role): empties the dead letters if they are what was counted. */
export function purgeDeadLetters(
  deps: QueueOpsDeps,
  a: { stream: string; expectedCount: number; expectedLastId: string; operator: Operator; reason: string },
): Promise<QueueActionResult> {
  return runThenAudit(deps.prisma, entryAudit(a, "queue.purgeDead", "dead"), async () => {
    await assertKnownStream(deps, a.stream);
    const { entries } = await listDeadLetters(deps.redis, a.stream, 1000);
    const removed = await purgeDead(deps.redis, a.stream, { count: a.expectedCount, lastId: a.expectedLastId }).catch(
      (err: unknown) => {
        // The 409 also says what is there now, so the console can show it and ask again.
        if (!isCohortError(err, "CONFLICT") || typeof err.details?.count !== "number") throw err;
        const now = { count: err.details.count, lastId: String(err.details.lastId ?? "") };
        throw new CohortError("CONFLICT", err.message, { details: { ...now, problem: now } });
      },
    );
    const phase2 = entries.flatMap((e) => {
      const job = decodePhase2(e.fields);
      return job ? [`${job.tx}@${job.shard}`] : [];
    });
    return done(
      {
        count: a.expectedCount,
        lastId: a.expectedLastId,
        entries: entries.slice(0, 100).map((e) => ({ id: e.id, fields: e.fields })),
      },
      { count: 0 },
      `purged ${removed} dead letter(s)` +
        (phase2.length > 0
          ? `; ${phase2.length} phase-2 branch(es) stay marked for attention on the In doubt page (retry them there)`
          : ""),
    );
  });
}

function notPending(a: EntryAction): CohortError {
  return new CohortError("NOT_FOUND", `entry ${a.id} is not pending in ${a.stream} (${a.group}): delivered or moved meanwhile`);
}

/** A requeued phase-2 entry must still be wanted: the transaction unfinished, the branch unresolved, the same decision. */
async function assertDeliveryWanted(deps: QueueOpsDeps, job: Phase2Entry): Promise<void> {
  const row = await branchState(deps.prisma, job.tx, job.shard);
  if (!row) {
    if (job.decision === "ABORT") return; // presumed abort: rolling back is always safe
    throw new CohortError("CONFLICT", `transaction ${job.tx} has no record in the coordinator log: a COMMIT cannot be delivered`);
  }
  if (row.ended || !row.branch || !isUnresolvedBranch(row.branch)) {
    throw new CohortError(
      "CONFLICT",
      `transaction ${job.tx} already ${row.ended ? `ended ${row.status}` : `has ${job.shard} resolved (${row.branch ?? "no such branch"})`}: nothing to deliver; purge the dead letter instead`,
    );
  }
  if (row.decision && row.decision !== job.decision) {
    throw new CohortError(
      "DECISION_CONFLICT",
      `the dead letter says ${job.decision} but the coordinator log decided ${row.decision}: requeuing it would deliver the wrong outcome`,
    );
  }
}

/** The branch's mark and timeline record for an operator's move of its phase-2 entry (log/delivery.ts). */
function markBranch(deps: QueueOpsDeps, job: Phase2Entry, mark: QueueMark, operator: Operator, data: object): Promise<void> {
  return markQueued(deps.prisma, { txId: job.tx, shards: [job.shard], mark, detail: data, actor: `user:${operator.name}` });
}
