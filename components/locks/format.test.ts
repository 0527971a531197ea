import { describe, expect, it } from "vitest";
import { formatSpan, formatTtl, shortOwner } from "./format";

describe("lock formatting", () => {
  it("renders spans at a precision that stays readable while it ticks", () => {
    expect(formatSpan(-5)).toBe("0 ms");
    expect(formatSpan(850)).toBe("850 ms");
    expect(formatSpan(42_400)).toBe("42 s");
    expect(formatSpan(185_000)).toBe("3 min 05 s");
    expect(formatSpan(2 * 3_600_000 + 7 * 60_000)).toBe("2 h 07 min");
    expect(formatSpan(76 * 3_600_000)).toBe("3 d 4 h");
  });

  it("says a lapsed lease is expiring rather than showing a negative time", () => {
    expect(formatTtl(0)).toBe("expiring");
    expect(formatTtl(-300)).toBe("expiring");
    expect(formatTtl(9_000)).toBe("9 s");
  });

  it("shortens transaction ids only", () => {
    expect(shortOwner("0f8fad5b-d9cb-469f-a165-70867728950e")).toBe("0f8fad5b…");
    expect(shortOwner("batch-job-7")).toBe("batch-job-7");
  });
});
