// The engine's ABORT and the operator's force-abort follow one rule (states.ts mayAbort):
// tried on every status and decision a row can hold, both take or refuse exactly the same
// rows. The operator's rule used to be "no decision and not ended", which aborted a
// COMMITTING or ABORTING row without a decision that the engine would leave alone.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CohortError } from "../../errors";
import { forceAbort, type OpsDeps } from "../../ops/actions";
import { createTestEnv, type TestEnv } from "../../testing/testEnv";
import { CoordinatorLog } from "./coordinatorLog";
import { forceAbortDecision } from "./operatorDecisions";
import { DECISIONS, isFinalState, mayAbort, TX_STATUSES, type Decision, type TxStatus } from "./states";

let env: TestEnv;
let log: CoordinatorLog;
let deps: OpsDeps;
const operator = { id: "00000000-0000-0000-0000-000000000001", name: "alice" };
const owner = randomUUID();

beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 1 });
  log = new CoordinatorLog(env.db.pool, env.lazyDb.pool, env.prisma);
  // No engine in this console: a decision it makes is left unowned for the next instance.
  deps = { prisma: env.prisma, pool: env.db.pool, shards: new Map(), engine: null };
});
afterAll(async () => env?.cleanup());

/** A row in any state the log can hold, owned by `owner`. */
async function seed(status: TxStatus, decision: Decision | null): Promise<string> {
  const id = randomUUID();
  const ended = isFinalState(status);
  await env.db.pool.query(
    `INSERT INTO transactions (id, label, status, decision, coordinator_id, deadline_at, decided_at, ended_at, outcome)
     VALUES ($1, 'abort-rule', $2::"TxStatus", $3::"Decision", $4, now() + interval '1 hour',
       CASE WHEN $3::"Decision" IS NOT NULL THEN now() END, CASE WHEN $5::boolean THEN now() END,
       CASE WHEN $5::boolean THEN $2::"TxStatus" END)`,
    [id, status, decision, owner, ended],
  );
  return id;
}

const row = (id: string) => env.prisma.transaction.findUniqueOrThrow({ where: { id } });
const cases = TX_STATUSES.flatMap((status) => [null, ...DECISIONS].map((decision) => ({ status, decision })));

describe("one abort rule for the engine and the operator", () => {
  it.each(cases)("$status with decision $decision", async ({ status, decision }) => {
    const byEngine = await seed(status, decision);
    const byOperator = await seed(status, decision);
    const engineAborted = await log.decideAbort({ id: byEngine, coordinatorId: null, reason: "test", actor: "test" });
    const operatorAborted = await env.prisma.$transaction((tx) =>
      forceAbortDecision(tx, { txId: byOperator, reason: "forced", operatorReason: "test", actor: "user:alice" }),
    );
    expect({ engineAborted, operatorAborted }).toEqual({
      engineAborted: mayAbort({ status, decision }),
      operatorAborted: mayAbort({ status, decision }),
    });
    for (const [id, aborted] of [
      [byEngine, engineAborted],
      [byOperator, operatorAborted],
    ] as const) {
      const after = await row(id);
      if (aborted) expect(after).toMatchObject({ status: "ABORTING", decision: "ABORT" });
      else expect(after).toMatchObject({ status, decision });
    }
    // Only the operator's decision takes the transaction from its coordinator.
    expect((await row(byEngine)).coordinatorId).toBe(owner);
    expect((await row(byOperator)).coordinatorId).toBe(operatorAborted ? null : owner);
  });

  it("refuses an operator's force-abort of a row past its commit point even without a decision", async () => {
    const id = await seed("COMMITTING", null);
    const err = await forceAbort(deps, { txId: id, operator, reason: "test" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CohortError);
    expect((err as CohortError).code).toBe("DECISION_CONFLICT");
    expect((err as Error).message).toMatch(/past its commit point/);
    expect(await row(id)).toMatchObject({ status: "COMMITTING", decision: null, coordinatorId: owner });
    const audit = await env.prisma.auditEntry.findFirstOrThrow({ where: { targetId: id } });
    expect(audit).toMatchObject({ action: "force-abort", outcome: "refused" });
  });

  it("force-aborts an ACTIVE transaction and leaves it for the next engine instance", async () => {
    const id = await seed("ACTIVE", null);
    const result = await forceAbort(deps, { txId: id, operator, reason: "stuck" });
    expect(result.outcome).toBe("done");
    expect(await row(id)).toMatchObject({ status: "ABORTING", decision: "ABORT", coordinatorId: null });
    const record = await env.prisma.logRecord.findFirstOrThrow({ where: { txId: id, type: "decision" } });
    expect(record).toMatchObject({ actor: "user:alice", data: { decision: "ABORT", forced: true, reason: "stuck" } });
  });
});
