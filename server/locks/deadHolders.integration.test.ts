// releaseHeldBy: the locks of a dead process, found by the host in their grants, released
// by compare-and-delete except those whose owner is kept.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { releaseHeldBy } from "./deadHolders";
import { compareTokens } from "./fencing";
import { lockTestKit, sleep, type LockTestKit } from "./lockTestKit";
import type { LockService } from "./lockService";

let kit: LockTestKit;
let sweeper: LockService;

beforeAll(() => {
  kit = lockTestKit();
  sweeper = kit.service({ host: "sweeper:1" });
});
afterAll(async () => kit?.cleanup());

const owners = async (key: string) => (await sweeper.inspect(key)).holders.map((h) => `${h.host}/${h.owner}`).sort();

describe("releaseHeldBy", () => {
  it("releases the grants of the dead hosts except those of kept owners, and advances the fence", async () => {
    const dead = kit.service({ host: "dead:100" });
    const live = kit.service({ host: "live:200" });
    const free = await dead.acquire({ key: "dh:free", owner: "tx-free" });
    await dead.acquire({ key: "dh:kept", owner: "tx-kept" });
    await dead.acquire({ key: "dh:shared", owner: "tx-free", mode: "shared" });
    await live.acquire({ key: "dh:shared", owner: "tx-live", mode: "shared" });
    await live.acquire({ key: "dh:live", owner: "tx-live" });
    await sleep(200); // past the index delay, as for a process that died a while after its grants

    // A host that came back between the listing and the release keeps everything.
    let asked = false;
    const cameBack = await releaseHeldBy(sweeper, ["dead:100"], {
      stillDead: async () => new Set(),
      keep: async () => {
        asked = true;
        return new Set();
      },
    });
    expect(cameBack).toEqual({ released: [], kept: 3 });
    expect(asked).toBe(false);

    let keepAsked: string[] = [];
    const result = await releaseHeldBy(sweeper, ["dead:100"], {
      keep: async (o) => {
        keepAsked = [...o].sort();
        return new Set(["tx-kept"]);
      },
    });
    expect(keepAsked).toEqual(["tx-free", "tx-kept"]);
    expect(result.kept).toBe(1);
    expect(result.released.map((r) => `${r.key}/${r.owner}/${r.mode}`).sort()).toEqual([
      "dh:free/tx-free/exclusive",
      "dh:shared/tx-free/shared",
    ]);
    expect(await owners("dh:free")).toEqual([]);
    expect(await owners("dh:kept")).toEqual(["dead:100/tx-kept"]);
    expect(await owners("dh:shared")).toEqual(["live:200/tx-live"]);
    expect(await owners("dh:live")).toEqual(["live:200/tx-live"]);
    // The index forgot the released grants.
    expect((await sweeper.listHeld({ prefix: "dh:" })).locks.map((l) => l.key).sort()).toEqual([
      "dh:kept",
      "dh:live",
      "dh:shared",
    ]);

    // The next holder writes under a larger token; the dead holder's token is stale.
    const next = await live.acquire({ key: "dh:free", owner: "tx-next" });
    expect(compareTokens(free.token, next.token)).toBe(-1);
    // A second sweep finds nothing more of the dead host, and never touches the new grant.
    const again = await releaseHeldBy(sweeper, ["dead:100"], { keep: async () => new Set(["tx-kept"]) });
    expect(again).toEqual({ released: [], kept: 1 });
    expect(await owners("dh:free")).toEqual(["live:200/tx-next"]);
  });

  it("finds a grant the index never heard of through the waiters it holds up", async () => {
    // Its grants are never written to the index: a process that died within the index delay.
    const dead = kit.service({ host: "dead:300", indexDelayMs: 600_000 });
    // A waiter that would only list its blocker after a heartbeat it does not reach here.
    const waiter = kit.service({ host: "live:400", waiterHeartbeatMs: 20_000 });
    const hidden = await dead.acquire({ key: "dh:hidden", owner: "tx-hidden", ttlMs: 60_000 });
    const started = Date.now();
    const waiting = waiter.acquire({ key: "dh:hidden", owner: "tx-waiter", waitMs: 30_000 });
    await sleep(300); // the wait is in the waiting index
    expect((await sweeper.listHeld({ prefix: "dh:hidden" })).locks).toEqual([]);

    const result = await releaseHeldBy(sweeper, ["dead:300"], { keep: async () => new Set() });
    expect(result.released.map((r) => `${r.key}/${r.owner}`)).toEqual(["dh:hidden/tx-hidden"]);
    const granted = await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(compareTokens(hidden.token, granted.token)).toBe(-1);
    await waiter.release(granted);
  });
});
