import { describe, expect, it } from "vitest";
import { MAX_WEIGHT } from "./hashRing";
import { ringChangeSchema } from "./ringChange";

const reweight = (weight: unknown) => ringChangeSchema.safeParse({ op: "reweight", shard: "shard-a", weight });

describe("ring change input", () => {
  it("reads a weight from a query string's text or a body's number", () => {
    expect(reweight("2").data).toEqual({ op: "reweight", shard: "shard-a", weight: 2 });
    expect(reweight(" 0.5 ").data).toMatchObject({ weight: 0.5 });
    expect(reweight(3).data).toMatchObject({ weight: 3 });
    expect(ringChangeSchema.parse({ op: "add", shard: "shard-d" })).toEqual({ op: "add", shard: "shard-d", weight: 1 });
  });

  it.each([true, false, [2], {}, null, "", " ", "two", "NaN", "Infinity", "1e400", 0, -1, MAX_WEIGHT + 1])(
    "refuses the weight %j",
    (weight) => {
      const parsed = reweight(weight);
      expect(parsed.success).toBe(false);
      expect(parsed.error!.issues[0]!.path).toEqual(["weight"]);
    },
  );

  it("refuses a null weight on add instead of taking the default", () => {
    expect(ringChangeSchema.safeParse({ op: "add", shard: "shard-d", weight: null }).success).toBe(false);
  });
});
