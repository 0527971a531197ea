// The Queues page's API against real PostgreSQL and Redis, through the real api() wrapper:
// reads for every role, the operator actions on pending entries and dead letters, purge for
// admins only, and the guards that keep a phase-2 dead letter from being requeued once its
// transaction ended or against the coordinator log's decision. Every attempt that reaches an
// action, refused or not, lands in the audit trail with the user and the reason.
//
// Entries are made by hand on this file's namespace (nothing consumes them: no engine runs
// here), and read by a consumer with XREADGROUP so they are pending; transactions are rows
// written straight into the coordinator log.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as claimRoute from "@/app/api/queues/claim/route";
import * as deadLetterRoute from "@/app/api/queues/dead-letter/route";
import * as purgeRoute from "@/app/api/queues/purge/route";
import * as requeueRoute from "@/app/api/queues/requeue/route";
import * as retryRoute from "@/app/api/queues/retry/route";
import * as queuesRoute from "@/app/api/queues/route";
import * as streamRoute from "@/app/api/queues/stream/route";
import type { RouteHandler } from "../http/api";
import { PROBLEM_CONTENT_TYPE } from "../http/problem";
import { compareStreamIds } from "../live/protocol";
import { encodePhase2, PHASE2_GROUP, phase2Stream, type Phase2Entry } from "../queues/phase2Entries";
import { ensureGroup, queueKeys } from "../queues/streamQueue";
import { callRoute, createTestSession, json, useTestRuntime, type TestSession } from "../testing/apiTestKit";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { claimEntry, type QueueDetail, type QueueOverview } from "./queues";

let env: TestEnv;
let stream: string;
let viewer: TestSession;
let operator: TestSession;
let admin: TestSession;
const CONSUMER = "engine-gone";

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 2 });
  useTestRuntime(env);
  stream = phase2Stream(env.namespace);
  await ensureGroup(env.redis, stream, PHASE2_GROUP);
  viewer = await createTestSession(env, "viewer");
  operator = await createTestSession(env, "operator");
  admin = await createTestSession(env, "admin");
});
afterAll(async () => {
  await env?.cleanup();
});

type TxShape = {
  status: "ACTIVE" | "PREPARING" | "COMMITTING" | "ABORTING" | "COMMITTED" | "ABORTED";
  decision: "COMMIT" | "ABORT" | null;
  ended: boolean;
  branch: "ACTIVE" | "PREPARED" | "COMMITTED" | "ABORTED";
};

/** A transaction in the coordinator log with one branch on shard-a, as a coordinator would have left it. */
async function logTransaction(shape: TxShape): Promise<string> {
  const id = randomUUID();
  const outcome = shape.ended ? shape.status : null;
  await env.prisma.$executeRaw`
    INSERT INTO transactions (id, label, status, decision, deadline_at, decided_at, ended_at, outcome)
    VALUES (${id}::uuid, 'queues-test', ${shape.status}::"TxStatus", ${shape.decision}::"Decision", now() + interval '1 hour',
            CASE WHEN ${shape.decision}::text IS NULL THEN NULL ELSE now() END,
            CASE WHEN ${shape.ended}::boolean THEN now() END, ${outcome}::"TxStatus")`;
  await env.prisma.$executeRaw`
    INSERT INTO branches (tx_id, shard, gid, status, vote, prepared_at)
    VALUES (${id}::uuid, 'shard-a', ${`cohort_${id}`}, ${shape.branch}::"BranchStatus", true, now())`;
  return id;
}

/** Adds a phase-2 entry and has a consumer read it, so it is pending with one delivery. */
async function pendingEntry(entry: Phase2Entry, lastError?: string): Promise<string> {
  const flat = Object.entries(encodePhase2(entry)).flat();
  const id = (await env.redis.xadd(stream, "*", ...flat)) as string;
  const read = (await env.redis.xreadgroup("GROUP", PHASE2_GROUP, CONSUMER, "COUNT", 1, "STREAMS", stream, ">")) as
    [string, [string, string[]][]][] | null;
  expect(read?.[0]?.[1].map(([readId]) => readId)).toEqual([id]);
  if (lastError) await env.redis.hset(queueKeys(stream).errors, id, lastError);
  return id;
}

const get = (path: string, session: TestSession = viewer) =>
  callRoute(path.startsWith("/api/queues/stream") ? streamRoute.GET : queuesRoute.GET, { path, session });

const post = (handler: RouteHandler, path: string, session: TestSession, body: unknown) =>
  callRoute(handler, { method: "POST", path, session, body });
const retry = (session: TestSession, body: unknown) => post(retryRoute.POST, "/api/queues/retry", session, body);
const deadLetter = (session: TestSession, body: unknown) => post(deadLetterRoute.POST, "/api/queues/dead-letter", session, body);
const claim = (session: TestSession, body: unknown) => post(claimRoute.POST, "/api/queues/claim", session, body);
const requeue = (session: TestSession, body: unknown) => post(requeueRoute.POST, "/api/queues/requeue", session, body);
const purge = (session: TestSession, body: unknown) => post(purgeRoute.POST, "/api/queues/purge", session, body);

const detail = async (): Promise<QueueDetail> => {
  const response = await get(`/api/queues/stream?name=${encodeURIComponent(stream)}`);
  expect(response.status).toBe(200);
  return json<QueueDetail>(response);
};
const pendingIds = async () => (await detail()).pending.flatMap((g) => g.entries.map((e) => e.id));

/** Audit entries of one entry (`<stream>/<id>`), oldest first. */
const auditOf = (id: string) =>
  env.prisma.auditEntry.findMany({ where: { targetType: "queue-entry", targetId: `${stream}/${id}` }, orderBy: { id: "asc" } });

async function expectProblem(response: Response, status: number, code: string): Promise<Record<string, unknown>> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
  const problem = JSON.parse(text) as Record<string, unknown>;
  expect(problem).toMatchObject({ status, code });
  return problem;
}

describe("reading", () => {
  it("shows every role the streams and one stream's pending entries, by a name with colons in the query", async () => {
    const tx = await logTransaction({ status: "COMMITTING", decision: "COMMIT", ended: false, branch: "PREPARED" });
    const id = await pendingEntry({ tx, shard: "shard-a", decision: "COMMIT", label: "read" }, "shard-a: connection refused");

    const overview = await json<QueueOverview>(await get("/api/queues"));
    expect(overview.rabbit).toBeNull();
    expect(overview.collectMs).toBeGreaterThanOrEqual(0);
    const figures = overview.streams.find((s) => s.stream === stream);
    expect(figures).toMatchObject({ source: "redis", kind: "phase2", groups: [{ name: PHASE2_GROUP }] });
    expect(figures!.groups[0]!.pending).toBeGreaterThanOrEqual(1);
    expect(figures!.groups[0]!.consumers.map((c) => c.name)).toContain(CONSUMER);

    const one = await detail();
    expect(one.figures.stream).toBe(stream);
    const entry = one.pending.find((g) => g.group === PHASE2_GROUP)!.entries.find((e) => e.id === id);
    expect(entry).toMatchObject({
      consumer: CONSUMER,
      deliveries: 1,
      fields: { tx, shard: "shard-a", decision: "COMMIT", label: "read" },
      lastError: "shard-a: connection refused",
    });
    expect(one.dead).toMatchObject({ total: expect.any(Number), entries: expect.any(Array) });
    expect(Array.isArray(one.series)).toBe(true);

    // A raw colon in the query string reads the same.
    expect((await get(`/api/queues/stream?name=${stream}`)).status).toBe(200);
  });

  it("answers a malformed stream name with 400 and an unknown one with 404", async () => {
    for (const name of ["", "a b", "x/../y", "q%00", "😀", "x".repeat(201)]) {
      const response = await get(`/api/queues/stream?name=${encodeURIComponent(name)}`);
      const problem = await expectProblem(response, 400, "BAD_REQUEST");
      expect(problem.errors).toContainEqual(expect.objectContaining({ in: "query", field: "name" }));
    }
    await expectProblem(await get("/api/queues/stream"), 400, "BAD_REQUEST");
    await expectProblem(await get(`/api/queues/stream?name=a&name=b`), 400, "BAD_REQUEST");
    const unknown = await expectProblem(await get(`/api/queues/stream?name=${env.namespace}:q:nope`), 404, "NOT_FOUND");
    expect(unknown.detail).toContain(`no queue stream "${env.namespace}:q:nope"`);
    // Another deployment's streams are not this console's.
    await expectProblem(await get(`/api/queues/stream?name=other:q:phase2`), 404, "NOT_FOUND");
  });
});

describe("entry actions", () => {
  it("lets a viewer read but not act: every action is 403 and nothing moves", async () => {
    const tx = await logTransaction({ status: "COMMITTING", decision: "COMMIT", ended: false, branch: "PREPARED" });
    const id = await pendingEntry({ tx, shard: "shard-a", decision: "COMMIT", label: "viewer" });
    const entry = { stream, group: PHASE2_GROUP, id, reason: "a viewer tries" };
    await expectProblem(await retry(viewer, entry), 403, "FORBIDDEN");
    await expectProblem(await deadLetter(viewer, entry), 403, "FORBIDDEN");
    await expectProblem(await requeue(viewer, { stream, deadId: "1-0", reason: "a viewer tries" }), 403, "FORBIDDEN");
    await expectProblem(
      await purge(viewer, { stream, expectedCount: 0, expectedLastId: "", reason: "a viewer tries" }),
      403,
      "FORBIDDEN",
    );
    expect(await pendingIds()).toContain(id);
    const [pending] = (await env.redis.xpending(stream, PHASE2_GROUP, id, id, 1)) as [string, string, number, number][];
    expect(pending![1]).toBe(CONSUMER);
    expect(pending![3]).toBe(1);
  });

  it("lets an operator retry a pending entry now, without counting a delivery, and audits it", async () => {
    const tx = await logTransaction({ status: "COMMITTING", decision: "COMMIT", ended: false, branch: "PREPARED" });
    const id = await pendingEntry({ tx, shard: "shard-a", decision: "COMMIT", label: "retry" }, "shard-a down");
    const response = await retry(operator, { stream, group: PHASE2_GROUP, id, reason: "shard-a is back" });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await json(response)).toEqual({ ok: true, message: `entry ${id} is due now (owner ${CONSUMER})` });

    // Idle past the reclaim threshold (30 s in the test runtime), so any live consumer takes it; still one delivery.
    const [row] = (await env.redis.xpending(stream, PHASE2_GROUP, id, id, 1)) as [string, string, number, number][];
    expect(row![2]).toBeGreaterThanOrEqual(30_000);
    expect(row![3]).toBe(1);

    const audit = await auditOf(id);
    expect(audit.map((a) => [a.action, a.outcome, a.userId, a.userName, a.reason])).toEqual([
      ["queue.retryNow", "ok", operator.user.id, operator.user.name, "shard-a is back"],
    ]);
    expect(audit[0]!.before).toMatchObject({ id, consumer: CONSUMER, deliveries: 1, lastError: "shard-a down" });
  });

  it("claims a pending entry for another live consumer, due at once, and refuses unknown, dead or current owners", async () => {
    const tx = await logTransaction({ status: "COMMITTING", decision: "COMMIT", ended: false, branch: "PREPARED" });
    const id = await pendingEntry({ tx, shard: "shard-a", decision: "COMMIT", label: "claim" }, "stuck consumer");
    // A live consumer: it just joined the group.
    await env.redis.xgroup("CREATECONSUMER", stream, PHASE2_GROUP, "engine-live");

    const viewerTry = await claim(viewer, { stream, group: PHASE2_GROUP, id, consumer: "engine-live", reason: "not mine to do" });
    await expectProblem(viewerTry, 403, "FORBIDDEN");
    await expectProblem(
      await claim(operator, { stream, group: PHASE2_GROUP, id, consumer: "nobody", reason: "typo in the consumer" }),
      404,
      "NOT_FOUND",
    );
    await expectProblem(
      await claim(operator, { stream, group: PHASE2_GROUP, id, consumer: CONSUMER, reason: "already there" }),
      409,
      "CONFLICT",
    );
    const ok = await claim(operator, {
      stream,
      group: PHASE2_GROUP,
      id,
      consumer: "engine-live",
      reason: "engine-gone is stuck",
    });
    expect(ok.status, await ok.clone().text()).toBe(200);
    const [row] = (await env.redis.xpending(stream, PHASE2_GROUP, id, id, 1)) as [string, string, number, number][];
    expect(row![1]).toBe("engine-live");
    expect(row![3]).toBe(1); // no delivery counted
    expect(row![2]).toBeGreaterThanOrEqual(28_000); // past every backoff, short of the 30 s reclaim threshold
    expect(row![2]).toBeLessThan(30_000);

    // A consumer silent for longer than the reclaim threshold counts as dead.
    await new Promise((r) => setTimeout(r, 120));
    const deps = { prisma: env.prisma, redis: env.redis, namespace: env.namespace, reclaimIdleMs: 100, rabbit: null };
    await expect(
      claimEntry(deps, {
        stream,
        group: PHASE2_GROUP,
        id,
        consumer: CONSUMER,
        operator: { id: operator.user.id, name: operator.user.name },
        reason: "back to the dead one",
      }),
    ).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringContaining("looks dead") });

    const audit = await auditOf(id);
    expect(audit.map((a) => [a.action, a.outcome, a.reason])).toEqual([
      ["queue.claim", "refused", "typo in the consumer"],
      ["queue.claim", "refused", "already there"],
      ["queue.claim", "ok", "engine-gone is stuck"],
      ["queue.claim", "refused", "back to the dead one"],
    ]);
  });

  it("moves a phase-2 entry to the dead letters and requeues it while the log still wants it", async () => {
    const tx = await logTransaction({ status: "COMMITTING", decision: "COMMIT", ended: false, branch: "PREPARED" });
    const id = await pendingEntry({ tx, shard: "shard-a", decision: "COMMIT", label: "dead" });
    const moved = await deadLetter(operator, { stream, group: PHASE2_GROUP, id, reason: "poison entry" });
    expect(moved.status, await moved.clone().text()).toBe(200);
    expect((await json<{ message: string }>(moved)).message).toMatch(
      new RegExp(`^entry ${id} moved to the dead letters as \\d+-\\d+`),
    );

    const after = await detail();
    expect(after.pending.flatMap((g) => g.entries.map((e) => e.id))).not.toContain(id);
    const dead = after.dead.entries.find((d) => d.originalId === id)!;
    expect(dead).toMatchObject({
      fields: { tx, shard: "shard-a", decision: "COMMIT", label: "dead" },
      group: PHASE2_GROUP,
      deliveries: 1,
      error: `moved by ${operator.user.name}: poison entry`,
      by: `operator:${operator.user.name}`,
    });
    expect(after.figures.deadLetters).toBe(after.dead.total);
    const branch = () => env.prisma.branch.findUniqueOrThrow({ where: { txId_shard: { txId: tx, shard: "shard-a" } } });
    expect((await branch()).deadLetteredAt).not.toBeNull();

    const back = await requeue(operator, { stream, deadId: dead.id, reason: "shard-a recovered" });
    expect(back.status, await back.clone().text()).toBe(200);
    const { message } = await json<{ message: string }>(back);
    const newId = /as (\d+-\d+)$/.exec(message)![1]!;
    expect((await detail()).dead.entries.map((d) => d.id)).not.toContain(dead.id);
    const [requeued] = (await env.redis.xrange(stream, newId, newId)) as [string, string[]][];
    expect(requeued?.[1]).toEqual(
      Object.entries(encodePhase2({ tx, shard: "shard-a", decision: "COMMIT", label: "dead" })).flat(),
    );
    // A worker delivers it again, as a new entry.
    const again = (await env.redis.xreadgroup("GROUP", PHASE2_GROUP, "engine-live", "COUNT", 10, "STREAMS", stream, ">")) as
      [string, [string, string[]][]][] | null;
    expect(again?.[0]?.[1].map(([readId]) => readId)).toEqual([newId]);
    await env.redis.xack(stream, PHASE2_GROUP, newId);
    expect((await branch()).deadLetteredAt).toBeNull();
    const log = await env.prisma.logRecord.findMany({ where: { txId: tx }, orderBy: { id: "asc" } });
    expect(log.map((r) => [r.type, r.actor, r.shard])).toEqual([
      ["phase2.dead-lettered", `user:${operator.user.name}`, "shard-a"],
      ["phase2.requeued", `user:${operator.user.name}`, "shard-a"],
    ]);

    expect((await auditOf(id)).map((a) => [a.action, a.outcome, a.userName, a.reason])).toEqual([
      ["queue.deadLetter", "ok", operator.user.name, "poison entry"],
    ]);
    expect((await auditOf(dead.id)).map((a) => [a.action, a.outcome, a.userName, a.reason])).toEqual([
      ["queue.requeue", "ok", operator.user.name, "shard-a recovered"],
    ]);
  });

  it("refuses to requeue a phase-2 dead letter whose transaction already ended, and requeues nothing", async () => {
    const tx = await logTransaction({ status: "COMMITTED", decision: "COMMIT", ended: true, branch: "COMMITTED" });
    const id = await pendingEntry({ tx, shard: "shard-a", decision: "COMMIT", label: "ended" });
    expect((await deadLetter(operator, { stream, group: PHASE2_GROUP, id, reason: "stuck" })).status).toBe(200);
    const deadId = (await detail()).dead.entries.find((d) => d.originalId === id)!.id;
    const length = await env.redis.xlen(stream);

    const refused = await expectProblem(await requeue(operator, { stream, deadId, reason: "try again" }), 409, "CONFLICT");
    expect(refused.detail).toContain(`transaction ${tx} already ended COMMITTED`);
    expect(await env.redis.xlen(stream)).toBe(length);
    expect((await detail()).dead.entries.map((d) => d.id)).toContain(deadId);
    expect(await env.prisma.logRecord.count({ where: { txId: tx, type: "phase2.requeued" } })).toBe(0);
    expect((await auditOf(deadId)).map((a) => [a.action, a.outcome, a.userId, a.reason, a.message])).toEqual([
      ["queue.requeue", "refused", operator.user.id, "try again", expect.stringContaining("already ended COMMITTED")],
    ]);
  });

  it("refuses to requeue a dead letter against the log's decision (DECISION_CONFLICT)", async () => {
    const tx = await logTransaction({ status: "COMMITTING", decision: "COMMIT", ended: false, branch: "PREPARED" });
    const id = await pendingEntry({ tx, shard: "shard-a", decision: "ABORT", label: "wrong decision" });
    expect((await deadLetter(operator, { stream, group: PHASE2_GROUP, id, reason: "disagrees" })).status).toBe(200);
    const deadId = (await detail()).dead.entries.find((d) => d.originalId === id)!.id;
    const length = await env.redis.xlen(stream);

    const refused = await expectProblem(
      await requeue(operator, { stream, deadId, reason: "deliver it" }),
      409,
      "DECISION_CONFLICT",
    );
    expect(refused.detail).toContain("the dead letter says ABORT but the coordinator log decided COMMIT");
    expect(await env.redis.xlen(stream)).toBe(length);
    expect((await detail()).dead.entries.map((d) => d.id)).toContain(deadId);
    expect((await auditOf(deadId)).map((a) => [a.action, a.outcome, a.userName, a.reason])).toEqual([
      ["queue.requeue", "refused", operator.user.name, "deliver it"],
    ]);
  });

  it("answers a missing reason or bad ids with 400 (before anything runs) and unknown targets with 404 (audited)", async () => {
    const tx = await logTransaction({ status: "COMMITTING", decision: "COMMIT", ended: false, branch: "PREPARED" });
    const id = await pendingEntry({ tx, shard: "shard-a", decision: "COMMIT", label: "bad input" });
    for (const body of [
      { stream, group: PHASE2_GROUP, id },
      { stream, group: PHASE2_GROUP, id, reason: "  " },
    ]) {
      const problem = await expectProblem(await retry(operator, body), 400, "BAD_REQUEST");
      expect(problem.errors).toEqual([expect.objectContaining({ in: "body", field: "reason", detail: "a reason is required" })]);
    }
    await expectProblem(await deadLetter(operator, { stream, group: PHASE2_GROUP, id: "12", reason: "ok" }), 400, "BAD_REQUEST");
    await expectProblem(await requeue(operator, { stream: "a b", deadId: "1-0", reason: "bad stream" }), 400, "BAD_REQUEST");
    expect(await auditOf(id)).toEqual([]);

    const unknownStream = `${env.namespace}:q:nope`;
    const noStream = await expectProblem(
      await retry(operator, { stream: unknownStream, group: PHASE2_GROUP, id, reason: "wrong stream" }),
      404,
      "NOT_FOUND",
    );
    expect(noStream.detail).toContain(`no queue stream "${unknownStream}"`);
    await expectProblem(await retry(operator, { stream, group: "nobody", id, reason: "wrong group" }), 404, "NOT_FOUND");
    await expectProblem(
      await retry(operator, { stream, group: PHASE2_GROUP, id: "1-1", reason: "not pending" }),
      404,
      "NOT_FOUND",
    );
    await expectProblem(await requeue(operator, { stream, deadId: "1-1", reason: "not dead" }), 404, "NOT_FOUND");

    const refusals = await env.prisma.auditEntry.findMany({
      where: { targetType: "queue-entry", reason: { in: ["wrong stream", "wrong group", "not pending", "not dead"] } },
      orderBy: { id: "asc" },
    });
    expect(refusals.map((a) => [a.targetId, a.action, a.outcome, a.userName, a.reason])).toEqual([
      [`${unknownStream}/${id}`, "queue.retryNow", "refused", operator.user.name, "wrong stream"],
      [`${stream}/${id}`, "queue.retryNow", "refused", operator.user.name, "wrong group"],
      [`${stream}/1-1`, "queue.retryNow", "refused", operator.user.name, "not pending"],
      [`${stream}/1-1`, "queue.requeue", "refused", operator.user.name, "not dead"],
    ]);
    // Still pending, untouched.
    expect(await pendingIds()).toContain(id);
  });
});

describe("purging the dead letters", () => {
  it("is for admins only, and only of what was counted: a stale count is 409 with the real one", async () => {
    const tx = await logTransaction({ status: "ABORTING", decision: "ABORT", ended: false, branch: "PREPARED" });
    for (const label of ["p1", "p2"]) {
      const id = await pendingEntry({ tx, shard: "shard-a", decision: "ABORT", label });
      expect((await deadLetter(operator, { stream, group: PHASE2_GROUP, id, reason: "to purge" })).status).toBe(200);
    }
    const { dead } = await detail();
    expect(dead.total).toBeGreaterThanOrEqual(2);
    const newest = dead.entries[0]!.id;
    expect(dead.entries.map((d) => d.id)).toEqual(dead.entries.map((d) => d.id).sort((a, b) => compareStreamIds(b, a))); // newest first

    const shown = { stream, expectedCount: dead.total, expectedLastId: newest };
    await expectProblem(await purge(operator, { ...shown, reason: "operator tries" }), 403, "FORBIDDEN");
    expect((await detail()).dead.total).toBe(dead.total);

    const stale = await expectProblem(
      await purge(admin, { stream, expectedCount: dead.total - 1, expectedLastId: newest, reason: "stale view" }),
      409,
      "CONFLICT",
    );
    expect(stale).toMatchObject({ count: dead.total, lastId: newest });
    expect(stale.detail).toContain(`${dead.total} now (newest ${newest}), ${dead.total - 1} expected`);
    const staleId = await expectProblem(
      await purge(admin, { stream, expectedCount: dead.total, expectedLastId: "1-0", reason: "stale newest" }),
      409,
      "CONFLICT",
    );
    expect(staleId).toMatchObject({ count: dead.total, lastId: newest });
    expect((await detail()).dead.total).toBe(dead.total);

    // Count and newest id must agree: none means "", some means an id.
    await expectProblem(
      await purge(admin, { stream, expectedCount: 2, expectedLastId: "", reason: "no id" }),
      400,
      "BAD_REQUEST",
    );

    const done = await purge(admin, { ...shown, reason: "known poison" });
    expect(done.status, await done.clone().text()).toBe(200);
    expect((await json<{ message: string }>(done)).message).toContain(`purged ${dead.total} dead letter(s)`);
    expect((await detail()).dead).toEqual({ total: 0, entries: [] });

    // Nothing left: count 0 and no newest id is a valid (and idempotent) purge.
    expect((await purge(admin, { stream, expectedCount: 0, expectedLastId: "", reason: "empty" })).status).toBe(200);

    const audit = await auditOf("dead");
    expect(audit.map((a) => [a.action, a.outcome, a.userId, a.userName, a.reason])).toEqual([
      ["queue.purgeDead", "refused", admin.user.id, admin.user.name, "stale view"],
      ["queue.purgeDead", "refused", admin.user.id, admin.user.name, "stale newest"],
      ["queue.purgeDead", "ok", admin.user.id, admin.user.name, "known poison"],
      ["queue.purgeDead", "ok", admin.user.id, admin.user.name, "empty"],
    ]);
    expect(audit[2]!.before).toMatchObject({ count: dead.total, lastId: newest });
  });
});
