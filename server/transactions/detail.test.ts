import { describe, expect, it } from "vitest";
import { inDoubtInfo } from "./detail";

const now = new Date("2026-03-01T12:00:00.000Z");
const ago = (s: number) => new Date(now.getTime() - s * 1000);

describe("in-doubt rule of the detail page", () => {
  it("flags prepared-or-decided transactions stalled past the threshold", () => {
    for (const status of ["PREPARING", "COMMITTING", "ABORTING"]) {
      expect(inDoubtInfo({ status, endedAt: null, updatedAt: ago(11) }, now).inDoubt).toBe(true);
      expect(inDoubtInfo({ status, endedAt: null, updatedAt: ago(9) }, now).inDoubt).toBe(false);
    }
  });

  it("never flags running or finished transactions", () => {
    expect(inDoubtInfo({ status: "ACTIVE", endedAt: null, updatedAt: ago(3600) }, now).inDoubt).toBe(false);
    expect(inDoubtInfo({ status: "COMMITTED", endedAt: ago(3600), updatedAt: ago(3600) }, now).inDoubt).toBe(false);
  });

  it("reports how long it has been stalled", () => {
    expect(inDoubtInfo({ status: "COMMITTING", endedAt: null, updatedAt: ago(42.7) }, now)).toEqual({
      inDoubt: true,
      lastProgressAt: ago(42.7).toISOString(),
      stalledSeconds: 42,
      thresholdSeconds: 10,
    });
  });
});
