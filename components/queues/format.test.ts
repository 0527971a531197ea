import { describe, expect, it } from "vitest";
import { age, count, fieldsText, phase2Fields } from "./format";

describe("queue formatting", () => {
  it("recognises a phase-2 entry by the uuid in tx, and nothing else", () => {
    const tx = "0195f7a2-1c3d-7e4f-8a9b-0c1d2e3f4a5b";
    expect(phase2Fields({ tx, shard: "shard-a", decision: "COMMIT", label: "transfer" })).toEqual({
      tx,
      shard: "shard-a",
      decision: "COMMIT",
      label: "transfer",
    });
    expect(phase2Fields({ tx: "not-a-uuid", shard: "shard-a" })).toBeNull();
    expect(phase2Fields({ event: "transfer.committed" })).toBeNull();
    expect(phase2Fields(null)).toBeNull();
  });

  it("summarises other fields as key=value pairs, shortened", () => {
    expect(fieldsText({ a: "1", b: "two" })).toBe("a=1 b=two");
    expect(fieldsText({ payload: "x".repeat(200) }, 20)).toBe(`payload=${"x".repeat(11)}…`);
    expect(fieldsText({ payload: "x".repeat(200) }, Infinity)).toHaveLength(208);
    expect(fieldsText(null)).toBe("");
  });

  it("shows missing figures as a dash", () => {
    expect(count(null)).toBe("—");
    expect(count(12345)).toBe("12,345");
    expect(age(null)).toBe("—");
    expect(age(1500)).toBe("1.5 s");
  });
});
