import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Engine } from "../engine/engine";
import { CohortError } from "../errors";
import { applyLeg } from "../sim/transfer";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { forceAbort, forceCommit, retryNow, type OpsDeps } from "./actions";
import { bulkResolve } from "./bulk";

let env: TestEnv;
let opsEngine: Engine;
let deps: OpsDeps;
const operator = { id: "00000000-0000-0000-0000-000000000001", name: "alice" };
const hang = () => new Promise<void>(() => undefined);

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 2_000, placement: "modulo" });
  opsEngine = await env.engine();
  deps = {
    prisma: env.prisma,
    pool: env.db.pool,
    shards: new Map(env.shards.map((s) => [s.name, s])),
    engine: opsEngine,
  };
});
afterAll(async () => env?.cleanup());

const ledgerRows = async (txId: string) =>
  (
    await Promise.all(
      env.shards.map(async (s) =>
        Number((await s.query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n),
      ),
    )
  ).reduce((a, b) => a + b, 0);
/** The audit trail of one transaction, oldest first. */
const auditOf = (txId: string) =>
  env.prisma.auditEntry.findMany({ where: { targetType: "transaction", targetId: txId }, orderBy: { id: "asc" } });
const status = async (id: string) => (await env.prisma.transaction.findUniqueOrThrow({ where: { id } })).status;
const preparedCount = async () => (await Promise.all(env.shards.map((s) => s.listPrepared()))).flat().length;

/** A coordinator that hangs at a chosen step, as a stuck process would (its lease stays valid). */
async function stuckEngine(step: "afterPrepare" | "afterDecision") {
  return env.engine({ hooks: { [step]: hang } });
}

async function transfer(engine: Engine, a: number, b: number) {
  const tx = await engine.begin({ label: "ops-test", timeoutMs: 60_000 });
  await tx.run("shard-a", (c) => applyLeg(c, tx.id, a, -1));
  await tx.run("shard-b", (c) => applyLeg(c, tx.id, b, 1));
  return tx;
}

describe("operator guards", () => {
  it("refuses force-commit when a branch did not vote yes, then force-aborts cleanly", async () => {
    await env.shard("shard-b").query(`
      CREATE TABLE IF NOT EXISTS parents (id int PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS children (parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED)`);
    const stuck = await stuckEngine("afterPrepare");
    const tx = await stuck.begin({ label: "ops-test", timeoutMs: 60_000 });
    await tx.run("shard-a", (c) => applyLeg(c, tx.id, 0, -1));
    await tx.run("shard-b", (c) => c.query("INSERT INTO children VALUES (7)")); // shard-b will vote no
    void tx.commit().catch(() => undefined);
    await waitFor(
      async () => (await status(tx.id)) === "PREPARING" && (await env.shard("shard-a").isPrepared(tx.id)),
      5_000,
      "stuck in PREPARING",
    );

    const err = await forceCommit(deps, { txId: tx.id, operator, reason: "shard-a is holding locks" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CohortError);
    expect((err as CohortError).code).toBe("DECISION_CONFLICT");
    expect((err as Error).message).toMatch(/no prepared transaction on shard-b/);
    expect(await status(tx.id)).toBe("PREPARING");
    expect((await auditOf(tx.id)).at(-1)).toMatchObject({
      action: "force-commit",
      outcome: "refused",
      reason: "shard-a is holding locks",
      userName: "alice",
      before: { status: "PREPARING", decision: null },
      after: { status: "PREPARING", decision: null },
      message: expect.stringMatching(/no prepared transaction on shard-b/),
    });

    const result = await forceAbort(deps, { txId: tx.id, operator, reason: "coordinator hung" });
    expect(result.outcome).toBe("done");
    expect(result.before.status).toBe("PREPARING");
    expect(result.after.status).toBe("ABORTED");
    expect(await ledgerRows(tx.id)).toBe(0);
    expect(await env.shard("shard-a").isPrepared(tx.id)).toBe(false);
    const decision = await env.prisma.logRecord.findFirstOrThrow({ where: { txId: tx.id, type: "decision" } });
    expect(decision.actor).toBe("user:alice");
    const audit = await auditOf(tx.id);
    expect(audit.map((a) => [a.action, a.outcome, a.reason])).toEqual([
      ["force-commit", "refused", "shard-a is holding locks"],
      ["force-abort", "ok", "coordinator hung"],
    ]);
    // Recorded in the decision's own database transaction: "after" is the state it left.
    expect(audit[1]).toMatchObject({ before: { status: "PREPARING" }, after: { status: "ABORTING", decision: "ABORT" } });
    // Each attempt also stands in the transaction's own timeline.
    const timeline = await env.prisma.logRecord.findMany({ where: { txId: tx.id, type: { startsWith: "operator." } } });
    expect(timeline.map((r) => [r.type, r.actor, (r.data as { outcome: string }).outcome])).toEqual([
      ["operator.force-commit", "user:alice", "refused"],
      ["operator.force-abort", "user:alice", "ok"],
    ]);
  });

  it("force-commits a transaction whose branches are all prepared and whose coordinator hangs", async () => {
    const stuck = await stuckEngine("afterPrepare");
    const tx = await transfer(stuck, 10, 11);
    void tx.commit().catch(() => undefined);
    await waitFor(
      async () => (await env.shard("shard-a").isPrepared(tx.id)) && (await env.shard("shard-b").isPrepared(tx.id)),
      5_000,
      "both branches prepared",
    );
    const result = await forceCommit(deps, { txId: tx.id, operator, reason: "the money must arrive" });
    expect(result.outcome).toBe("done");
    expect(result.after.status).toBe("COMMITTED");
    expect(await ledgerRows(tx.id)).toBe(2);
  });

  it("refuses force-abort after a COMMIT decision and re-drives it with retry instead", async () => {
    const stuck = await stuckEngine("afterDecision");
    const tx = await transfer(stuck, 20, 21);
    void tx.commit().catch(() => undefined);
    await waitFor(async () => (await status(tx.id)) === "COMMITTING", 5_000, "COMMITTING");
    await expect(forceAbort(deps, { txId: tx.id, operator, reason: "try to undo" })).rejects.toMatchObject({
      code: "DECISION_CONFLICT",
      message: expect.stringMatching(/logged COMMIT first/),
    });
    expect((await auditOf(tx.id)).at(-1)).toMatchObject({ action: "force-abort", outcome: "refused" });
    await expect(forceCommit(deps, { txId: tx.id, operator, reason: "x" }).then((r) => r.outcome)).resolves.toBe("already");
    const retried = await retryNow(deps, { txId: tx.id, operator, reason: "coordinator is stuck" });
    expect(retried.after.status).toBe("COMMITTED");
    expect(await ledgerRows(tx.id)).toBe(2);
    await expect(retryNow(deps, { txId: tx.id, operator, reason: "again" })).rejects.toMatchObject({ code: "DECISION_CONFLICT" });
  });

  it("reports a logged decision as done when phase two cannot start in this console, and another engine delivers it", async () => {
    const stuck = await stuckEngine("afterPrepare");
    const tx = await transfer(stuck, 40, 41);
    void tx.commit().catch(() => undefined);
    await waitFor(async () => (await status(tx.id)) === "PREPARING", 5_000, "stuck in PREPARING");
    // This console's engine is shutting down: adopt() refuses with ENGINE_STOPPED.
    const stopping = await env.engine();
    await stopping.stop({ drainMs: 0 });
    const result = await forceAbort({ ...deps, engine: stopping }, { txId: tx.id, operator, reason: "console restarting" });
    expect(result.outcome).toBe("done");
    expect(result.message).toMatch(/^ABORT logged; phase two did not start in this console \(engine instance .* is stopped\)/);
    expect((await auditOf(tx.id)).at(-1)).toMatchObject({ action: "force-abort", outcome: "ok", reason: "console restarting" });
    // The forced decision has no coordinator: the live engine of this file takes it over.
    await waitFor(async () => (await status(tx.id)) === "ABORTED", 15_000, "ABORTED by another engine");
    expect(await ledgerRows(tx.id)).toBe(0);
  });

  it("gives exactly one outcome when a force-abort races the engine's own commit", async () => {
    const racer = await env.engine();
    const outcomes = { committed: 0, aborted: 0 };
    for (let i = 0; i < 40; i++) {
      const tx = await transfer(racer, 100 + 2 * i, 101 + 2 * i);
      const [commit, abort] = await Promise.allSettled([
        tx.commit(),
        new Promise((r) => setTimeout(r, Math.random() * 8)).then(() =>
          forceAbort(deps, { txId: tx.id, operator, reason: `race ${i}` }),
        ),
      ]);
      const final = await waitFor(async () => {
        const s = await status(tx.id);
        return s === "COMMITTED" || s === "ABORTED" ? s : null;
      }, 10_000);
      if (final === "COMMITTED") {
        outcomes.committed++;
        expect(commit.status).toBe("fulfilled");
        expect(abort.status).toBe("rejected");
        expect(await ledgerRows(tx.id)).toBe(2);
      } else {
        outcomes.aborted++;
        expect(commit.status).toBe("rejected");
        expect(abort.status === "fulfilled" && abort.value.outcome).toBe("done");
        expect(await ledgerRows(tx.id)).toBe(0);
      }
    }
    expect(outcomes.committed + outcomes.aborted).toBe(40);
    await waitFor(async () => (await preparedCount()) === 0, 10_000, "no prepared transactions left");
  });

  it("bulk-resolves by filter only when the confirmed count still matches", async () => {
    const stuck = await stuckEngine("afterPrepare");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const tx = await transfer(stuck, 300 + 2 * i, 301 + 2 * i);
      void tx.commit().catch(() => undefined);
      ids.push(tx.id);
    }
    await waitFor(async () => (await Promise.all(ids.map(status))).every((s) => s === "PREPARING"), 5_000, "stuck in PREPARING");
    // The threshold is "no progress for 10 s": age the rows instead of waiting.
    await env.db.pool.query("UPDATE transactions SET updated_at = now() - interval '1 minute' WHERE id = ANY($1::uuid[])", [ids]);
    const filter = { decision: "none" as const };
    const counted = await bulkResolve(deps, { filter, action: "force-abort", reason: "shard-b came back", operator });
    expect(counted).toMatchObject({ matched: 3, applied: false, done: 0 });
    for (const id of ids) expect(await status(id)).toBe("PREPARING");
    await expect(
      bulkResolve(deps, { filter, action: "force-abort", reason: "shard-b came back", operator, confirmCount: 2 }),
    ).rejects.toMatchObject({
      code: "DECISION_CONFLICT",
      message: expect.stringMatching(/3 transactions match now, not 2/),
    });
    for (const id of ids) expect(await status(id)).toBe("PREPARING");
    // Retry only selects decided transactions: none of these.
    expect((await bulkResolve(deps, { filter, action: "retry", reason: "x", operator })).matched).toBe(0);
    // A coordinator database that cannot be reached: every one fails, and the answer (shown in
    // the browser) and the audit trail say so without the connection's details.
    // The forced decision fails in the database (here a trigger stands in for a failing disk or
    // a server going away mid-statement): its audit record shares that database transaction and
    // is lost with it, and the failure is then audited on its own.
    await env.db.pool.query(`
      CREATE FUNCTION fail_decision() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'could not write to file: No space left on device (127.0.0.1)'; END $$;
      CREATE TRIGGER fail_decision BEFORE UPDATE ON transactions FOR EACH ROW
        WHEN (NEW.decision IS DISTINCT FROM OLD.decision) EXECUTE FUNCTION fail_decision()`);
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const failed = await bulkResolve(deps, {
        filter,
        action: "force-abort",
        reason: "db is down",
        operator,
        confirmCount: 3,
      });
      expect(failed).toMatchObject({ matched: 3, applied: true, done: 0, refused: 0, failed: 3 });
      expect(failed.errors).toHaveLength(3);
      expect(failed.errors.join("\n")).not.toMatch(/127\.0\.0\.1|No space/);
    } finally {
      logged.mockRestore();
      await env.db.pool.query("DROP TRIGGER fail_decision ON transactions; DROP FUNCTION fail_decision()");
    }
    for (const id of ids) expect(await status(id)).toBe("PREPARING");
    const failures = await env.prisma.auditEntry.findMany({ where: { targetId: { in: ids }, outcome: "failed" } });
    expect(failures).toHaveLength(3);
    expect(failures.map((a) => a.message).join("\n")).not.toMatch(/127\.0\.0\.1|No space/);

    const applied = await bulkResolve(deps, {
      filter,
      action: "force-abort",
      reason: "shard-b came back",
      operator,
      confirmCount: 3,
    });
    expect(applied).toMatchObject({ matched: 3, applied: true, done: 3, refused: 0, failed: 0 });
    // The ABORT decisions are logged; phase two may be finished by any live engine in this
    // file (a cleared coordinator is claimable by all), so wait for the outcome to land.
    await waitFor(async () => (await Promise.all(ids.map(status))).every((s) => s === "ABORTED"), 15_000, "all ABORTED");
    const audited = await env.prisma.auditEntry.findMany({ where: { targetId: { in: ids }, outcome: "ok" } });
    expect(audited.map((a) => a.reason)).toEqual(Array(3).fill("shard-b came back (bulk force-abort)"));
  });
});

describe("forced decisions", () => {
  it("publish the transaction's outbox events when an operator force-commits", async () => {
    const stuck = await stuckEngine("afterPrepare");
    const tx = await transfer(stuck, 40, 41);
    const eventId = tx.publish({
      aggregatetype: "transfer",
      aggregateid: "40-41",
      type: "transfer.completed",
      payload: { n: 1 },
    });
    void tx.commit().catch(() => undefined);
    await waitFor(
      async () => (await env.shard("shard-a").isPrepared(tx.id)) && (await env.shard("shard-b").isPrepared(tx.id)),
      5_000,
      "both branches prepared",
    );
    await forceCommit(deps, { txId: tx.id, operator, reason: "the coordinator is gone, its events must not be" });
    const rows = await env.db.pool.query<{ id: string; type: string; payload: unknown }>(
      "SELECT id::text, type, payload FROM outbox WHERE tx_id = $1",
      [tx.id],
    );
    expect(rows.rows).toEqual([{ id: eventId, type: "transfer.completed", payload: { n: 1 } }]);
    // The decision moved them: the transaction row keeps no second copy.
    const kept = await env.db.pool.query("SELECT outbox_events FROM transactions WHERE id = $1", [tx.id]);
    expect(kept.rows).toEqual([{ outbox_events: null }]);
  });

  it("commit together with their audit record: no audit, no decision", async () => {
    const stuck = await stuckEngine("afterPrepare");
    const tx = await transfer(stuck, 42, 43);
    void tx.commit().catch(() => undefined);
    await waitFor(async () => (await status(tx.id)) === "PREPARING", 5_000, "stuck in PREPARING");
    await env.db.pool.query(`
      CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'audit_log is full'; END $$;
      CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log FOR EACH ROW
        WHEN (NEW.outcome = 'ok') EXECUTE FUNCTION fail_audit()`);
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      await expect(forceAbort(deps, { txId: tx.id, operator, reason: "nobody may answer for this" })).rejects.toThrow();
    } finally {
      logged.mockRestore();
      await env.db.pool.query("DROP TRIGGER fail_audit ON audit_log; DROP FUNCTION fail_audit()");
    }
    const row = await env.prisma.transaction.findUniqueOrThrow({ where: { id: tx.id } });
    expect(row).toMatchObject({ status: "PREPARING", decision: null });
    expect((await auditOf(tx.id)).map((a) => [a.action, a.outcome])).toEqual([["force-abort", "failed"]]);
    // And the operator can still decide once the audit trail works again.
    await expect(forceAbort(deps, { txId: tx.id, operator, reason: "audit is back" })).resolves.toMatchObject({
      outcome: "done",
    });
  });
});
