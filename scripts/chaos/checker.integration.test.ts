// The campaign's checker against a planted history: every kind of violation it is meant to
// catch is put into real databases and history files by hand, and each must be reported —
// while what is fine (an "outcome pending" answer, a committed transfer with both legs and
// its event) must not be. A net with a hole would pass every campaign.
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { inject } from "vitest";
import { ensureDatabase, withDatabase } from "../../server/infra/databases";
import { createTaggedDatabases, type TaggedDatabases } from "../../server/infra/scratchEnvironment";
import { TEMPLATE_DB } from "../../server/testing/globalSetup";
import { checkRun } from "./checker";
import { newRecord } from "./nemeses";
import type { HistoryLine } from "./protocol";
import type { Deployment, Topology } from "./topology";

let dbs: TaggedDatabases;
let bUrl: string;
const bName = `chk${randomBytes(3).toString("hex")}_b_cohort`;
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "chaos-checker-"));
const tx = Object.fromEntries(
  [
    "ok",
    "oneLeg",
    "toldCommitted",
    "toldAborted",
    "weird",
    "stuck",
    "bOk",
    "onePhaseOk",
    "onePhaseUnlogged",
    "onePhaseToldAborted",
    "onePhaseBad",
    "onePhaseWide",
  ].map((k) => [k, randomUUID()]),
);

async function sql(url: string, text: string, values: unknown[] = []): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text, values);
  } finally {
    await c.end();
  }
}

const terminal = (id: string, status: "COMMITTED" | "ABORTED") =>
  `INSERT INTO transactions (id, label, status, outcome, deadline_at, ended_at)
   VALUES ('${id}', 'transfer', '${status}', '${status}', now(), now())`;

beforeAll(async () => {
  const serverUrl = inject("pgServerUrl");
  dbs = await createTaggedDatabases(serverUrl, `chk${randomBytes(3).toString("hex")}`, 2, { template: TEMPLATE_DB });
  await ensureDatabase(serverUrl, bName, TEMPLATE_DB);
  bUrl = withDatabase(serverUrl, bName);
  const a = dbs.shards[0]!;
  const b = dbs.shards[1]!;
  for (const s of [a, b]) {
    await sql(
      s.url,
      `CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, fence bigint NOT NULL DEFAULT 0);
       CREATE TABLE ledger (tx_id uuid NOT NULL, account bigint NOT NULL, delta bigint NOT NULL, PRIMARY KEY (tx_id, account))`,
    );
  }
  // Deployment A: accounts 0, 2 (shard a) and 1 (3,000 in all, but 50 went missing); B: account 100000.
  await sql(a.url, "INSERT INTO accounts VALUES (0, 975, 10), (2, 1000, 0), (100000, 1000, 0)");
  await sql(b.url, "INSERT INTO accounts VALUES (1, 975, 0)");
  // ok: both legs. oneLeg: COMMITTED, one leg (and, with a higher token, older than the fence).
  await sql(a.url, `INSERT INTO ledger VALUES ('${tx.ok}', 0, -5), ('${tx.oneLeg}', 0, -20)`);
  await sql(b.url, `INSERT INTO ledger VALUES ('${tx.ok}', 1, 5)`);
  await sql(dbs.databaseUrl, terminal(tx.ok!, "COMMITTED"));
  await sql(dbs.databaseUrl, terminal(tx.oneLeg!, "COMMITTED"));
  await sql(dbs.databaseUrl, terminal(tx.toldCommitted!, "ABORTED"));
  // toldAborted has both legs, as a committed transfer should; weird is aborted cleanly.
  await sql(a.url, `INSERT INTO ledger VALUES ('${tx.toldAborted}', 0, 0)`);
  await sql(b.url, `INSERT INTO ledger VALUES ('${tx.toldAborted}', 1, 0)`);
  await sql(dbs.databaseUrl, terminal(tx.toldAborted!, "COMMITTED"));
  await sql(dbs.databaseUrl, terminal(tx.weird!, "ABORTED"));
  await sql(
    dbs.databaseUrl,
    `INSERT INTO transactions (id, label, status, deadline_at) VALUES ('${tx.stuck}', 'transfer', 'PREPARING', now())`,
  );
  // One-phase transfers (accounts 0 and 2, both on shard a; no event published).
  // onePhaseOk: logged COMMITTED one_phase with both legs, answered COMMITTED: fine.
  // onePhaseUnlogged: both legs, no log row (its coordinator died after the COMMIT).
  // onePhaseToldAborted: both legs, logged ABORTED, answered TX_ABORTED.
  // onePhaseBad: legs that do not match its amount, and an event it never published.
  // onePhaseWide: logged one_phase though its legs span two shards and it published an event.
  const onePhase = (id: string, status: "COMMITTED" | "ABORTED") =>
    `INSERT INTO transactions (id, label, status, outcome, deadline_at, ended_at, one_phase)
     VALUES ('${id}', 'transfer', '${status}', '${status}', now(), now(), true)`;
  await sql(
    a.url,
    `INSERT INTO ledger VALUES ('${tx.onePhaseOk}', 0, -7), ('${tx.onePhaseOk}', 2, 7),
       ('${tx.onePhaseUnlogged}', 0, -3), ('${tx.onePhaseUnlogged}', 2, 3),
       ('${tx.onePhaseToldAborted}', 0, -6), ('${tx.onePhaseToldAborted}', 2, 6),
       ('${tx.onePhaseBad}', 0, -4), ('${tx.onePhaseBad}', 2, 5), ('${tx.onePhaseWide}', 0, -1)`,
  );
  await sql(b.url, `INSERT INTO ledger VALUES ('${tx.onePhaseWide}', 1, 1)`);
  await sql(dbs.databaseUrl, onePhase(tx.onePhaseOk!, "COMMITTED"));
  await sql(dbs.databaseUrl, onePhase(tx.onePhaseToldAborted!, "ABORTED"));
  await sql(dbs.databaseUrl, onePhase(tx.onePhaseBad!, "COMMITTED"));
  await sql(dbs.databaseUrl, onePhase(tx.onePhaseWide!, "COMMITTED"));
  // A prepared transaction nobody finished.
  const c = new pg.Client({ connectionString: a.url });
  await c.connect();
  await c.query("BEGIN");
  await c.query("UPDATE accounts SET fence = fence WHERE id = 100000");
  await c.query(`PREPARE TRANSACTION 'cohort:${tx.stuck}:shard-a'`);
  await c.end();
  // The outbox: ok's event arrives twice (deduped to one); toldCommitted's is published though it aborted.
  const ev = randomUUID();
  const events: HistoryLine[] = [
    { t: 1, p: "consumer", ev: "event", id: ev, tx: tx.ok!, type: "transfer.completed" },
    { t: 2, p: "consumer", ev: "event", id: ev, tx: tx.ok!, type: "transfer.completed" },
    { t: 3, p: "consumer", ev: "event", id: randomUUID(), tx: tx.toldCommitted!, type: "transfer.completed" },
    { t: 4, p: "consumer", ev: "event", id: randomUUID(), tx: tx.onePhaseBad!, type: "transfer.completed" },
    { t: 4, p: "consumer", ev: "event", id: randomUUID(), tx: tx.onePhaseWide!, type: "transfer.completed" },
  ];
  const plan = (id: string, from: number, to: number, amount: number, shards: string[], publish: boolean): HistoryLine => ({
    t: 1,
    p: "a1",
    ev: "transfer",
    tx: id,
    from,
    to,
    amount,
    shards,
    publish,
  });
  const answers: HistoryLine[] = [
    plan(tx.ok!, 0, 1, 5, ["shard-a", "shard-b"], true),
    plan(tx.onePhaseOk!, 0, 2, 7, ["shard-a"], false),
    plan(tx.onePhaseUnlogged!, 0, 2, 3, ["shard-a"], false),
    plan(tx.onePhaseToldAborted!, 0, 2, 6, ["shard-a"], false),
    plan(tx.onePhaseBad!, 0, 2, 4, ["shard-a"], false),
    plan(tx.onePhaseWide!, 0, 1, 1, ["shard-a", "shard-b"], true),
    { t: 1, p: "a1", ev: "commit", tx: tx.ok!, status: "COMMITTED" },
    { t: 1, p: "a1", ev: "commit", tx: tx.onePhaseOk!, status: "COMMITTED" },
    { t: 1, p: "a1", ev: "commit", tx: tx.onePhaseToldAborted!, code: "BRANCH_FAILED", msg: "Connection terminated" },
    { t: 1, p: "a1", ev: "commit", tx: tx.onePhaseWide!, status: "COMMITTED" },
    { t: 1, p: "a1", ev: "app-abort", tx: tx.oneLeg!, why: "insufficient" },
    { t: 1, p: "a1", ev: "commit", tx: tx.stuck!, code: "OUTCOME_PENDING" },
    { t: 1, p: "a1", ev: "commit", tx: tx.toldCommitted!, status: "COMMITTED" },
    { t: 1, p: "a1", ev: "commit", tx: tx.toldAborted!, code: "TX_ABORTED", msg: "Connection terminated" },
    { t: 1, p: "a2", ev: "commit", tx: tx.weird!, code: "non-cohort", msg: "read ECONNRESET" },
    { t: 1, p: "a1", ev: "fenced", tx: tx.ok!, account: 0, token: "10" },
    { t: 1, p: "a2", ev: "fenced", tx: tx.oneLeg!, account: 0, token: "20" },
  ];
  fs.writeFileSync(path.join(runDir, "consumer.history.jsonl"), events.map((l) => JSON.stringify(l)).join("\n") + "\n");
  // A process killed mid-line leaves a cut-off last line: ignored.
  fs.writeFileSync(
    path.join(runDir, "a1.history.jsonl"),
    answers.map((l) => JSON.stringify(l)).join("\n") + '\n{"t":1,"p":"a1","ev":"com',
  );
  // Deployment B: a COMMITTED transfer whose legs are gone (another deployment rolled them back).
  await sql(bUrl, terminal(tx.bOk!, "COMMITTED"));
  await sql(
    bUrl,
    `INSERT INTO outbox (id, tx_id, aggregatetype, aggregateid, type, payload)
    VALUES ('${randomUUID()}', '${tx.bOk}', 'transfer', '${tx.bOk}', 'transfer.completed', '{}')`,
  );
});

afterAll(async () => {
  for (const s of dbs.shards) {
    await sql(s.url, `ROLLBACK PREPARED 'cohort:${tx.stuck}:shard-a'`).catch(() => undefined);
  }
  await dbs.drop();
  await sql(withDatabase(inject("pgServerUrl"), "postgres"), `DROP DATABASE IF EXISTS "${bName}" WITH (FORCE)`);
  fs.rmSync(runDir, { recursive: true, force: true });
});

it("reports every planted violation by kind, and nothing that is fine", async () => {
  const a: Deployment = { name: "a", namespace: "chk-a", databaseUrl: dbs.databaseUrl, accountOffset: 0, accounts: 3 };
  const b: Deployment = { name: "b", namespace: "chk-b", databaseUrl: bUrl, accountOffset: 100_000, accounts: 1 };
  const topo = {
    runDir,
    shards: dbs.shards,
    a,
    b,
    engines: [],
    bEngine: null,
    consumer: null as never,
    addEngine: () => Promise.reject(new Error("not in this test")),
    liveEngines: () => [],
    allChildren: () => [],
    startConsole: () => Promise.reject(new Error("not in this test")),
    close: () => Promise.resolve(),
  } satisfies Topology;
  const record = newRecord();
  record.redisDataLoss = true; // no Redis in this test: the totals consumer is not asked
  record.operator.push({ action: "force-abort", tx: tx.stuck!, outcome: "done" });
  record.operatorErrors.push(`force-commit ${tx.stuck}: 500 {"error":"internal"}`);
  const v = await checkRun({ topo, record, redisUrl: "redis://127.0.0.1:1", hung: ["a3"], crashed: [] });
  expect(v.counts).toEqual({
    money: 1,
    "not-terminal": 1,
    // oneLeg (COMMITTED, one leg) and onePhaseToldAborted (ABORTED, two legs)
    "ledger-vs-log": 2,
    "ledger-vs-transfer": 1,
    "one-phase-ineligible": 1,
    "one-phase-unlogged": 1,
    "prepared-left": 1,
    "told-committed-but-aborted": 1,
    "told-committed-but-not-applied": 1,
    "told-aborted-but-committed": 1,
    "told-aborted-but-applied": 2,
    "app-abort-but-committed": 1,
    "app-abort-but-applied": 1,
    "unknown-result": 1,
    "outbox-unpublished": 1,
    // oneLeg and toldAborted (onePhaseOk published none: not expected)
    "outbox-lost": 2,
    "outbox-for-aborted": 1,
    "stale-token-write": 1,
    "commit-hung": 1,
    "operator-unaudited": 1,
    "operator-5xx": 1,
    "b:ledger-vs-log": 1,
  });
  expect(v.examples["told-aborted-but-committed"]).toContain(tx.toldAborted);
  expect(v.examples["one-phase-unlogged"]).toContain(tx.onePhaseUnlogged);
  expect(v.examples["one-phase-unlogged"]).toContain("never answered");
  expect(v.examples["ledger-vs-transfer"]).toContain(tx.onePhaseBad);
  expect(v.examples["one-phase-ineligible"]).toContain(tx.onePhaseWide);
  expect(v.examples["outbox-unpublished"]).toContain(tx.onePhaseBad);
  expect(v.examples["app-abort-but-applied"]).toContain(tx.oneLeg);
  expect(v.examples["unknown-result"]).toContain("read ECONNRESET");
  expect(v.examples["stale-token-write"]).toMatch(/token 20, yet the row ends with fence 10/);
  expect(v.examples["operator-unaudited"]).toContain(tx.stuck);
  expect(v.examples["operator-5xx"]).toContain("500");
});
