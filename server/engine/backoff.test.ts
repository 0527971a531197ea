import { describe, expect, it } from "vitest";
import { backoffDelay, exponentialBackoff } from "./backoff";

describe("exponentialBackoff", () => {
  it("doubles from the base up to the cap", () => {
    expect([0, 1, 2, 3, 7, 8].map((n) => exponentialBackoff(n, 100, 10_000))).toEqual([100, 200, 400, 800, 10_000, 10_000]);
  });
  it("treats a negative attempt as the first and survives huge ones", () => {
    expect(exponentialBackoff(-1, 100, 10_000)).toBe(100);
    expect(exponentialBackoff(1e9, 100, 10_000)).toBe(10_000);
  });
});

describe("backoffDelay", () => {
  it("grows exponentially up to the cap", () => {
    expect(backoffDelay(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(20, 100, 10_000, () => 1)).toBe(10_000);
  });
  it("never goes below the base delay", () => {
    expect(backoffDelay(5, 100, 10_000, () => 0)).toBe(100);
  });
  it("draws uniformly below the exponential ceiling", () => {
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).toBe(400);
  });
});
