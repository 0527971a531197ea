import { describe, expect, it } from "vitest";
import { describeChange } from "./describeChange";

describe("describeChange", () => {
  it("lists changed keys as old → new", () => {
    expect(describeChange({ role: "viewer", disabled: false }, { role: "operator", disabled: false })).toEqual([
      "role: viewer → operator",
    ]);
  });
  it("lists the new state of a creation", () => {
    expect(describeChange(null, { role: "admin", disabled: false })).toEqual(["role: admin", "disabled: false"]);
  });
  it("copes with scalars, nulls and long values", () => {
    expect(describeChange(null, null)).toEqual([]);
    expect(describeChange("PREPARING", "ABORTED")).toEqual(["PREPARING → ABORTED"]);
    expect(describeChange({ a: "x".repeat(200) }, { a: 1 })[0]!.length).toBeLessThan(100);
  });
});
