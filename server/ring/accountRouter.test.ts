import { beforeAll, describe, expect, it } from "vitest";
import { mergeRouting } from "./accountRouter";
import { createHasher, HashRing, type Hasher } from "./hashRing";
import { RoutingTable } from "./routing";

let hasher: Hasher;
beforeAll(async () => {
  hasher = await createHasher();
});

const ring = (n: number) =>
  new HashRing(hasher, { shards: Array.from({ length: n }, (_, i) => ({ name: `shard-${"abcd"[i]}`, weight: 1 })) });

describe("mergeRouting", () => {
  it("never goes backwards: newer version, settled over unfinished, furthest cursor", () => {
    const v1 = RoutingTable.settled(1, ring(2));
    const moving = (cursor: string | null, status: "RUNNING" | "CANCELLED" = "RUNNING") =>
      RoutingTable.inTransition(2, ring(3), { runId: "r", from: ring(2), cursor, status });
    const v2done = RoutingTable.settled(2, ring(3));

    expect(mergeRouting(v1, moving("5"))).toEqual(moving("5"));
    expect(mergeRouting(moving("5"), v1)).toEqual(moving("5"));
    // A load read before the DONE event that was applied meanwhile.
    expect(mergeRouting(v2done, moving("9"))).toBe(v2done);
    expect(mergeRouting(moving("9"), v2done)).toBe(v2done);
    // A load read before a progress event: keep the event's cursor, take the load's status.
    const merged = mergeRouting(moving("120"), moving("100", "CANCELLED"));
    expect(merged.transition).toMatchObject({ cursor: "120", status: "CANCELLED" });
    expect(mergeRouting(moving("100"), moving("120")).transition?.cursor).toBe("120");
    expect(mergeRouting(moving(null), moving("7")).transition?.cursor).toBe("7");
  });
});
