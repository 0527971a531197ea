// The audit trail against the real database: entries on a transaction also appear in its
// timeline, both or neither, and listing is newest first with stable keyset pages.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CohortError, isCohortError } from "../errors";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { listAudit, recordAudit, type AuditInput } from "./audit";
import { runAudited, runThenAudit } from "./audited";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 2 });
});
afterAll(async () => {
  await env?.cleanup();
});

const alice = { id: randomUUID(), name: "alice" };

describe("audit", () => {
  it("records an action on a transaction in the audit trail and in the transaction's timeline", async () => {
    const txId = randomUUID();
    const entry = await recordAudit(env.prisma, {
      user: alice,
      action: "forceAbort",
      targetType: "transaction",
      targetId: txId,
      reason: "stuck for an hour",
      before: { status: "PREPARING", decision: null },
      after: { status: "ABORTING", decision: "ABORT" },
      outcome: "ok",
    });
    expect(entry).toMatchObject({
      userName: "alice",
      action: "forceAbort",
      targetId: txId,
      outcome: "ok",
      reason: "stuck for an hour",
    });
    const timeline = await env.prisma.logRecord.findMany({ where: { txId } });
    expect(timeline).toHaveLength(1);
    expect(timeline[0]).toMatchObject({
      type: "operator.forceAbort",
      actor: "user:alice",
      data: {
        auditId: entry.id,
        reason: "stuck for an hour",
        before: { status: "PREPARING", decision: null },
        after: { status: "ABORTING", decision: "ABORT" },
        outcome: "ok",
      },
    });
    expect(timeline[0]!.at.toISOString()).toBe(entry.at);
  });

  it("writes no timeline record for other targets, and stores bigints and dates as JSON", async () => {
    const entry = await recordAudit(env.prisma, {
      user: alice,
      action: "user.role",
      targetType: "user",
      targetId: "bob",
      reason: "promotion",
      before: { role: "viewer", n: 12345678901234567890n, when: new Date("2030-01-01T00:00:00Z") },
      after: { role: "operator" },
      outcome: "ok",
    });
    expect(entry.before).toEqual({ role: "viewer", n: "12345678901234567890", when: "2030-01-01T00:00:00.000Z" });
    expect(await env.prisma.logRecord.count({ where: { type: "operator.user.role" } })).toBe(0);
  });

  it("rolls back the entry with the caller's transaction, and the timeline record with the entry", async () => {
    const txId = randomUUID();
    await expect(
      env.prisma.$transaction(async (tx) => {
        await recordAudit(tx, { user: alice, action: "retry", targetType: "transaction", targetId: txId, outcome: "ok" });
        throw new Error("the action failed after auditing");
      }),
    ).rejects.toThrow("the action failed");
    expect(await env.prisma.auditEntry.count({ where: { targetId: txId } })).toBe(0);
    expect(await env.prisma.logRecord.count({ where: { txId } })).toBe(0);

    // A timeline insert that fails takes the audit entry with it (a trigger makes it fail).
    await env.prisma.$executeRawUnsafe(`CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'timeline unavailable'; END $$`);
    await env.prisma.$executeRawUnsafe(
      `CREATE TRIGGER refuse_operator_failme BEFORE INSERT ON tx_log FOR EACH ROW WHEN (NEW.type = 'operator.failme') EXECUTE FUNCTION refuse_insert()`,
    );
    const failed = randomUUID();
    await expect(
      recordAudit(env.prisma, { user: alice, action: "failme", targetType: "transaction", targetId: failed, outcome: "ok" }),
    ).rejects.toThrow();
    expect(await env.prisma.auditEntry.count({ where: { targetId: failed } })).toBe(0);

    // A malformed transaction id is refused before anything is written.
    const bad = await recordAudit(env.prisma, {
      user: alice,
      action: "retry",
      targetType: "transaction",
      targetId: "not-a-uuid",
      outcome: "ok",
    }).catch((e: unknown) => e);
    expect(isCohortError(bad, "BAD_REQUEST")).toBe(true);
    expect(await env.prisma.auditEntry.count({ where: { targetId: "not-a-uuid" } })).toBe(0);
  });

  it("runAudited records ok inside the action's transaction, and refusals and failures outside it", async () => {
    const base = { user: alice, action: "user.disable", targetType: "user", reason: "left the team" };
    const ok = await runAudited(env.prisma, { ...base, targetId: "carol" }, async () => ({
      result: 42,
      before: { disabled: false },
      after: { disabled: true },
    }));
    expect(ok).toBe(42);
    await expect(
      runAudited(env.prisma, { ...base, targetId: "dave" }, async () => {
        throw new CohortError("CONFLICT", "dave is busy");
      }),
    ).rejects.toThrow("dave is busy");
    await expect(
      runAudited(env.prisma, { ...base, targetId: "erin" }, async () => {
        throw new Error("connection to 10.1.2.3 lost");
      }),
    ).rejects.toThrow("10.1.2.3");
    const page = await listAudit(env.prisma, { action: "user.disable" });
    const byTarget = Object.fromEntries(page.entries.map((e) => [e.targetId, e]));
    expect(byTarget.carol).toMatchObject({ outcome: "ok", after: { disabled: true } });
    expect(byTarget.dave).toMatchObject({ outcome: "refused", message: "dave is busy" });
    expect(byTarget.erin).toMatchObject({ outcome: "failed" });
    // Internal details stay in the server log, not in the trail every viewer can read.
    expect(byTarget.erin!.message).not.toContain("10.1.2.3");
  });

  it("runThenAudit records ok after the action, refusals and failures without internal details, and never undoes a done action", async () => {
    const base = { user: alice, action: "queue.test", targetType: "queue-entry", reason: "draining" };
    const ok = await runThenAudit(env.prisma, { ...base, targetId: "s/1-1" }, async () => ({
      result: "moved",
      before: { consumer: "a" },
      after: { consumer: "b" },
      message: "moved to b",
    }));
    expect(ok).toBe("moved");
    await expect(
      runThenAudit(env.prisma, { ...base, targetId: "s/1-2" }, async () => {
        throw new CohortError("NOT_FOUND", "entry 1-2 is not pending");
      }),
    ).rejects.toThrow("not pending");
    await expect(
      runThenAudit(env.prisma, { ...base, targetId: "s/1-3" }, async () => {
        throw new Error("READONLY You can't write against a read only replica at 10.1.2.3");
      }),
    ).rejects.toThrow("10.1.2.3");
    const page = await listAudit(env.prisma, { action: "queue.test" });
    const byTarget = Object.fromEntries(page.entries.map((e) => [e.targetId, e]));
    expect(byTarget["s/1-1"]).toMatchObject({
      outcome: "ok",
      before: { consumer: "a" },
      after: { consumer: "b" },
      message: "moved to b",
      reason: "draining",
      userName: "alice",
    });
    expect(byTarget["s/1-2"]).toMatchObject({ outcome: "refused", message: "entry 1-2 is not pending" });
    expect(byTarget["s/1-3"]).toMatchObject({ outcome: "failed" });
    expect(byTarget["s/1-3"]!.message).not.toContain("10.1.2.3");

    // The action took effect; an audit write that fails then is logged, not turned into an error.
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const unrecorded = await runThenAudit(
        env.prisma,
        { ...base, targetType: "transaction", targetId: "not-a-transaction-id" },
        async () => ({ result: "done anyway" }),
      );
      expect(unrecorded).toBe("done anyway");
      expect(logged).toHaveBeenCalledWith(expect.stringContaining("could not record queue.test"), expect.anything());
    } finally {
      logged.mockRestore();
    }
  });

  it("lists newest first in keyset pages, with filters", async () => {
    const targetId = randomUUID();
    const entries: AuditInput[] = Array.from({ length: 7 }, (_, i) => ({
      user: i % 2 ? alice : { id: null, name: "cli" },
      action: i % 3 === 0 ? "page.test.a" : "page.test.b",
      targetType: "thing",
      targetId,
      outcome: i === 6 ? "refused" : "ok",
      reason: `entry ${i}`,
    }));
    for (const e of entries) await recordAudit(env.prisma, e);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await listAudit(env.prisma, { targetId, limit: 3, cursor });
      expect(page.entries.length).toBeLessThanOrEqual(3);
      seen.push(...page.entries.map((e) => e.reason!));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["entry 6", "entry 5", "entry 4", "entry 3", "entry 2", "entry 1", "entry 0"]);

    expect((await listAudit(env.prisma, { targetId, user: "cli" })).entries.map((e) => e.reason)).toEqual([
      "entry 6",
      "entry 4",
      "entry 2",
      "entry 0",
    ]);
    expect((await listAudit(env.prisma, { targetId, action: "page.test.a" })).entries).toHaveLength(3);
    expect((await listAudit(env.prisma, { targetId, action: "page.test." })).entries).toHaveLength(7);
    expect((await listAudit(env.prisma, { targetId, outcome: "refused" })).entries.map((e) => e.reason)).toEqual(["entry 6"]);
    expect((await listAudit(env.prisma, { targetId: randomUUID() })).entries).toEqual([]);
  });

  it("refuses malformed cursors as bad input", async () => {
    for (const cursor of ["abc", "-1", "1.5", "99999999999999999999", "9223372036854775808"]) {
      const err = await listAudit(env.prisma, { cursor }).catch((e: unknown) => e);
      expect(isCohortError(err, "BAD_REQUEST")).toBe(true);
    }
    expect((await listAudit(env.prisma, { cursor: "9223372036854775807", limit: 1 })).entries).toHaveLength(1);
  });
});
