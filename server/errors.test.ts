import { describe, expect, it, vi } from "vitest";
import { CohortError, isCohortError } from "./errors";

describe("recognising CohortErrors", () => {
  it("recognises one made by another copy of this module (another Next.js bundle)", async () => {
    vi.resetModules();
    const other = await import("./errors");
    expect(other.CohortError).not.toBe(CohortError);
    const foreign = new other.CohortError("BAD_REQUEST", "cursor: must be a cursor from a previous page");
    expect(isCohortError(foreign)).toBe(true);
    expect(isCohortError(foreign, "BAD_REQUEST")).toBe(true);
    expect(isCohortError(foreign, "NOT_FOUND")).toBe(false);
  });

  it("keeps the class, and is not fooled by look-alikes", () => {
    const own = new CohortError("NOT_FOUND", "no such lock");
    expect(own).toBeInstanceOf(CohortError);
    expect(isCohortError(own, "NOT_FOUND")).toBe(true);
    // A plain error with a matching code (pg, ioredis, anything) is not ours.
    expect(isCohortError(Object.assign(new Error("x"), { code: "BAD_REQUEST" }))).toBe(false);
    const branded = Object.assign(new Error("x"), { code: "NO_SUCH_CODE", [Symbol.for("cohort.error")]: true });
    expect(isCohortError(branded)).toBe(false);
    expect(isCohortError(null)).toBe(false);
    expect(isCohortError("BAD_REQUEST")).toBe(false);
  });
});
