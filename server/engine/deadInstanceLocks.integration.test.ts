// A dead instance's locks: those of transactions the log has no open row for (ACTIVE, or
// committed in one phase just before the crash) go as soon as a peer sees the instance
// dead; those of transactions recovery finishes stay until it has.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareTokens } from "../locks/fencing";
import { LockService } from "../locks/lockService";
import { applyLeg } from "../sim/transfer";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import type { EngineHooks } from "./types";

let env: TestEnv;
let inspector: LockService;
const services: LockService[] = [];
const lockService = (host: string) => {
  const s = new LockService({ redis: env.redis, host, namespace: env.namespace });
  services.push(s);
  return s;
};

beforeAll(async () => {
  env = await createTestEnv({ shards: 2, accounts: 100, placement: "modulo" });
  inspector = lockService("inspector");
});
afterAll(async () => {
  for (const s of services) await s.close();
  await env?.cleanup();
});

const hang = () => new Promise<void>(() => undefined);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (id: string) =>
  (await env.prisma.transaction.findUnique({ where: { id }, select: { status: true } }))?.status ?? null;
const holders = async (key: string) => (await inspector.inspect(key)).holders.map((h) => h.owner);
const ledgerRows = async (shard: string, txId: string) =>
  Number((await env.shard(shard).query<{ n: string }>("SELECT count(*) AS n FROM ledger WHERE tx_id = $1", [txId])).rows[0]!.n);

/** An engine that runs as process `host`:`pid`, with transactions that can be frozen at a step. */
async function freezableEngine(host: string, pid: number) {
  const freezeAfterPrepare = new Set<string>();
  const freezeAfterDecision = new Set<string>();
  const hooks: EngineHooks = {
    afterPrepare: (id) => (freezeAfterPrepare.has(id) ? hang() : undefined),
    afterDecision: (id) => (freezeAfterDecision.has(id) ? hang() : undefined),
  };
  const engine = await env.engine({ locks: lockService(`${host}:${pid}`), hooks, options: { host, pid } });
  return { engine, freezeAfterPrepare, freezeAfterDecision };
}

describe("locks of a dead instance", () => {
  it("releases those no logged transaction needs well before their lease, and keeps those recovery finishes", async () => {
    const dead = await freezableEngine("dead-host", 4242);
    // ACTIVE: branch work done, commit() never called. Nothing in the log.
    const active = await dead.engine.begin({ label: "dead-active", timeoutMs: 60_000 });
    const activeGrant = await active.lock("account:10");
    await active.run("shard-a", (c) => applyLeg(c, active.id, 10, -1));
    // Committed in one phase on its shard, frozen before it released its locks or wrote its record.
    const onePhase = await dead.engine.begin({ label: "dead-one-phase", timeoutMs: 60_000 });
    await onePhase.lock("account:12");
    await onePhase.run("shard-a", (c) => applyLeg(c, onePhase.id, 12, -1));
    dead.freezeAfterDecision.add(onePhase.id);
    void onePhase.commit().catch(() => undefined);
    // Two shards, frozen after its PREPAREs: a PREPARING row, which recovery finishes.
    const preparing = await dead.engine.begin({ label: "dead-preparing", timeoutMs: 60_000 });
    await preparing.lock("account:14");
    await preparing.run("shard-a", (c) => applyLeg(c, preparing.id, 14, -1));
    await preparing.run("shard-b", (c) => applyLeg(c, preparing.id, 15, 1));
    dead.freezeAfterPrepare.add(preparing.id);
    void preparing.commit().catch(() => undefined);
    await waitFor(
      async () => (await status(preparing.id)) === "PREPARING" && (await ledgerRows("shard-a", onePhase.id)) === 1,
      5_000,
      "frozen states",
    );
    expect(await status(active.id)).toBeNull();
    expect(await status(onePhase.id)).toBeNull();
    await sleep(200); // the grants reached the lock index (50 ms delay)

    dead.engine.simulateCrash();
    const crashedAt = Date.now();
    // The survivor cannot reach the shards in phase two for the preparing transaction until told.
    let shardsDown = true;
    const survivor = await env.engine({
      locks: lockService("survivor-host:1"),
      hooks: {
        beforeResolve: (id) => {
          if (shardsDown && id === preparing.id) throw new Error("shard unreachable (test)");
        },
      },
    });
    const next = await survivor.begin({ label: "after-crash", timeoutMs: 30_000 });
    // Leases of the dead transactions last 60 s + 30 s grace: these come from the sweep.
    const grant = await next.lock("account:10");
    const waited = Date.now() - crashedAt;
    expect(waited).toBeLessThan(5_000);
    // Not while the dead instance's lease (1 s, last renewed at most 200 ms before the crash) could still run.
    expect(waited).toBeGreaterThanOrEqual(700);
    expect(compareTokens(activeGrant.token, grant.token)).toBe(-1);
    const started = Date.now();
    await next.lock("account:12");
    expect(Date.now() - started).toBeLessThan(1_000);

    // The preparing transaction's lock stays while its abort has not reached its branches.
    expect(await status(preparing.id)).toBe("ABORTING");
    expect(await holders("account:14")).toEqual([preparing.id]);
    await sleep(1_000);
    expect(await status(preparing.id)).toBe("ABORTING");
    expect(await holders("account:14")).toEqual([preparing.id]);
    shardsDown = false;
    await waitFor(async () => (await status(preparing.id)) === "ABORTED", 10_000, "recovery");
    await waitFor(async () => (await holders("account:14")).length === 0, 5_000, "release by recovery");
    expect(await ledgerRows("shard-a", preparing.id)).toBe(0);
    await next.abort("done");
    await active.abort("test over").catch(() => undefined); // ends the dead branch's local transaction
  }, 30_000);

  it("leaves the locks of a dead instance whose process a live instance shares", async () => {
    const dead = await freezableEngine("shared-host", 7);
    const tx = await dead.engine.begin({ label: "dead-active", timeoutMs: 60_000 });
    await tx.lock("account:20");
    // Another engine in the same process (or a restart that got the same pid): its grants
    // carry the same host, so none of them can be told from the dead instance's.
    const sibling = await freezableEngine("shared-host", 7);
    await sleep(200);
    dead.engine.simulateCrash();
    await env.engine({ locks: lockService("survivor-host:2") });
    await sleep(3_000); // lease lapsed, several sweeps
    expect(await holders("account:20")).toEqual([tx.id]);
    // Once the sibling stopped too, the lock goes.
    await sibling.engine.stop();
    await waitFor(async () => (await holders("account:20")).length === 0, 5_000, "release after the sibling stopped");
    await tx.abort("test over").catch(() => undefined);
  }, 30_000);
});
