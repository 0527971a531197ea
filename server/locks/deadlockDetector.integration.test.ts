import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CohortError } from "../errors";
import { waitFor } from "../testing/waitFor";
import { startDeadlockDetector, type DeadlockDetector } from "./deadlockDetector";
import { lockTestKit, sleep, type LockTestKit } from "./lockTestKit";
import type { LockService } from "./lockService";
import type { LockGrant, WaitForEdge } from "./types";

let kit: LockTestKit;
let s1: LockService;
let s2: LockService;
let s3: LockService;
let detectors: DeadlockDetector[] = [];
let victims: { detector: string; victim: string; cycle: WaitForEdge[] }[] = [];

beforeAll(() => {
  kit = lockTestKit();
  [s1, s2, s3] = [kit.service(), kit.service(), kit.service()];
});
afterEach(async () => {
  await Promise.all(detectors.map((d) => d.stop()));
  detectors = [];
  victims = [];
});
afterAll(async () => kit?.cleanup());

/** A detector on a process of its own, as on another engine instance. */
function detector(): DeadlockDetector {
  const d: DeadlockDetector = startDeadlockDetector({
    lockService: kit.service(),
    intervalMs: 200,
    onVictim: (victim, cycle) => {
      victims.push({ detector: d.id, victim, cycle });
    },
  });
  detectors.push(d);
  return d;
}

/** What the engine does with a victim: its acquire failed, so it aborts and lets go of everything. */
async function abortOnDeadlock(locks: LockService, owner: string, pending: Promise<LockGrant>): Promise<CohortError> {
  const err = await pending.then(
    () => {
      throw new Error(`${owner} was expected to be the victim`);
    },
    (e: unknown) => e as CohortError,
  );
  await locks.releaseAllOf(owner);
  return err;
}

const queued = (locks: LockService, key: string, n: number) =>
  waitFor(async () => (await locks.waitersOf(key)).length === n, 5_000, `${n} waiter(s) on ${key}`);
const edges = (cycle: WaitForEdge[]) => cycle.map((e) => `${e.waiter}->${e.holder}@${e.key}`).sort();

describe("deadlock detection", () => {
  it("breaks a two-transaction deadlock by failing the younger one promptly", async () => {
    detector();
    await s1.acquire({ key: "dl2:a", owner: "T1", ownerStartedAt: 1_000 });
    await s2.acquire({ key: "dl2:b", owner: "T2", ownerStartedAt: 2_000 });
    const t1 = s1.acquire({ key: "dl2:b", owner: "T1", ownerStartedAt: 1_000, waitMs: 20_000 });
    await queued(s1, "dl2:b", 1);
    const started = Date.now();
    const t2 = s2.acquire({ key: "dl2:a", owner: "T2", ownerStartedAt: 2_000, waitMs: 20_000 });

    const err = await abortOnDeadlock(s2, "T2", t2);
    expect(err.code).toBe("DEADLOCK_VICTIM");
    expect(err.details).toMatchObject({ key: "dl2:a", owner: "T2" });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(victims.map((v) => v.victim)).toEqual(["T2"]);
    expect(edges(victims[0]!.cycle)).toEqual(["T1->T2@dl2:b", "T2->T1@dl2:a"]);

    // With T2 gone, T1 gets what it waited for.
    const grant = await t1;
    expect(grant.owner).toBe("T1");
    expect(await s1.releaseAllOf("T1")).toBe(2);
  });

  it("breaks a three-transaction cycle at its youngest transaction", async () => {
    detector();
    await s1.acquire({ key: "dl3:a", owner: "U1", ownerStartedAt: 1_000 });
    await s2.acquire({ key: "dl3:b", owner: "U2", ownerStartedAt: 2_000 });
    await s3.acquire({ key: "dl3:c", owner: "U3", ownerStartedAt: 3_000 });
    const u1 = s1.acquire({ key: "dl3:b", owner: "U1", ownerStartedAt: 1_000, waitMs: 20_000 });
    const u2 = s2.acquire({ key: "dl3:c", owner: "U2", ownerStartedAt: 2_000, waitMs: 20_000 });
    await queued(s1, "dl3:b", 1);
    await queued(s1, "dl3:c", 1);
    const u3 = s3.acquire({ key: "dl3:a", owner: "U3", ownerStartedAt: 3_000, waitMs: 20_000 });

    expect((await abortOnDeadlock(s3, "U3", u3)).code).toBe("DEADLOCK_VICTIM");
    expect(victims.map((v) => v.victim)).toEqual(["U3"]);
    expect(edges(victims[0]!.cycle)).toEqual(["U1->U2@dl3:b", "U2->U3@dl3:c", "U3->U1@dl3:a"]);
    await u2; // U2 gets c, finishes and lets go
    expect(await s2.releaseAllOf("U2")).toBe(2);
    await u1;
    expect(await s1.releaseAllOf("U1")).toBe(2);
  });

  it("sees a cycle that closes through the FIFO order of a queue", async () => {
    detector();
    // V1 holds k shared; V2 queues for k exclusive; V3 holds m and queues for k shared
    // behind V2 (FIFO: a reader does not pass a queued writer); V1 then waits for m.
    await s1.acquire({ key: "dlq:k", owner: "V1", mode: "shared", ownerStartedAt: 1_000 });
    await s3.acquire({ key: "dlq:m", owner: "V3", ownerStartedAt: 2_000 });
    const v2 = s2.acquire({ key: "dlq:k", owner: "V2", ownerStartedAt: 3_000, waitMs: 20_000 });
    await queued(s1, "dlq:k", 1);
    const v3 = s3.acquire({ key: "dlq:k", owner: "V3", mode: "shared", ownerStartedAt: 2_000, waitMs: 20_000 });
    await queued(s1, "dlq:k", 2);
    const v1 = s1.acquire({ key: "dlq:m", owner: "V1", ownerStartedAt: 1_000, waitMs: 20_000 });

    expect((await abortOnDeadlock(s2, "V2", v2)).code).toBe("DEADLOCK_VICTIM");
    expect(edges(victims[0]!.cycle)).toEqual(["V1->V3@dlq:m", "V2->V1@dlq:k", "V3->V2@dlq:k"]);
    expect(victims[0]!.cycle.find((e) => e.waiter === "V3")!.via).toBe("queuedAhead");
    await v3; // compatible with V1's shared hold once V2 left the queue
    expect(await s3.releaseAllOf("V3")).toBe(2);
    await v1;
    expect(await s1.releaseAllOf("V1")).toBe(2);
  });

  it("acts once per deadlock with detectors running on several instances", async () => {
    detector();
    detector();
    detector();
    await s1.acquire({ key: "dlm:a", owner: "W1", ownerStartedAt: 1_000 });
    await s2.acquire({ key: "dlm:b", owner: "W2", ownerStartedAt: 2_000 });
    const w1 = s1.acquire({ key: "dlm:b", owner: "W1", ownerStartedAt: 1_000, waitMs: 20_000 });
    await queued(s1, "dlm:b", 1);
    const w2 = s2.acquire({ key: "dlm:a", owner: "W2", ownerStartedAt: 2_000, waitMs: 20_000 });
    expect((await abortOnDeadlock(s2, "W2", w2)).code).toBe("DEADLOCK_VICTIM");
    await w1;
    await sleep(600); // a few more rounds of every detector
    expect(victims.map((v) => v.victim)).toEqual(["W2"]);
    await s1.releaseAllOf("W1");
  });

  it("leaves plain waiting alone", async () => {
    const d = detector();
    const holder = await s1.acquire({ key: "dln:a", owner: "X1", ownerStartedAt: 1_000 });
    const x2 = s2.acquire({ key: "dln:a", owner: "X2", ownerStartedAt: 2_000, waitMs: 20_000 });
    await queued(s1, "dln:a", 1);
    await sleep(700);
    const round = await d.runOnce();
    expect(round).toMatchObject({ leader: true, cycles: 0, victims: [] });
    expect(victims).toEqual([]);
    expect(await kit.service().waitForGraph()).toEqual([
      expect.objectContaining({ waiter: "X2", holder: "X1", key: "dln:a", via: "holds" }),
    ]);
    await s1.release(holder);
    await s2.release(await x2);
  });
});
