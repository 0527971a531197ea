import { describe, expect, it } from "vitest";
import { GroupCommit } from "./groupCommit";

describe("GroupCommit", () => {
  it("batches concurrent submissions and keeps results in order", async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        batches.push(items);
        await new Promise((r) => setTimeout(r, 5));
        return items.map((i) => i * 2);
      },
      { maxBatch: 4, maxInFlight: 1 },
    );
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => gc.submit(i)));
    expect(results).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(batches.map((b) => b.length)).toEqual([4, 4, 2]);
  });

  it("fails every member of a batch whose write fails, and recovers for the next", async () => {
    let fail = true;
    const gc = new GroupCommit<number, number>(async (items) => {
      if (fail) throw new Error("log unreachable");
      return items;
    });
    const first = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    expect(first.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    await expect(gc.submit(3)).resolves.toBe(3);
  });

  it("fails only the bad item when the database refuses one item's data", async () => {
    const calls: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => {
      calls.push(items);
      if (items.includes(13)) throw Object.assign(new Error("invalid byte sequence"), { code: "22021" });
      return items;
    });
    const results = await Promise.allSettled([1, 13, 3].map((i) => gc.submit(i)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(calls[0]).toEqual([1, 13, 3]);
  });

  it("does not split a batch whose connection failed", async () => {
    let writes = 0;
    const gc = new GroupCommit<number, number>(async () => {
      writes++;
      throw Object.assign(new Error("Connection terminated unexpectedly"), {});
    });
    const results = await Promise.allSettled([1, 2, 3].map((i) => gc.submit(i)));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(writes).toBe(1);
  });

  it("lingers for company when asked, so records nobody waits for share a statement", async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        batches.push(items);
        return items;
      },
      { lingerMs: 30 },
    );
    const first = gc.submit(1);
    await new Promise((r) => setTimeout(r, 10));
    const second = gc.submit(2); // arrives after the first event-loop turn, within the linger
    await Promise.all([first, second]);
    expect(batches).toEqual([[1, 2]]);
  });
});
