import { describe, expect, it, vi } from "vitest";
import { CohortError } from "../errors";
import { PROBLEM_CONTENT_TYPE, problemResponse } from "./problem";

describe("problem+json", () => {
  it("adds an exposed error's own members (details.problem), never over the standard ones", async () => {
    const err = new CohortError("STALE_TOKEN", "the lock changed since you looked", {
      details: {
        internal: "not for the browser",
        problem: { holders: [{ owner: "tx-1", token: "7" }], status: 200, code: "OK", detail: "forged" },
      },
    });
    const response = problemResponse(err, "POST /api/locks/release");
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      type: "about:blank",
      title: "Conflict",
      status: 409,
      code: "STALE_TOKEN",
      detail: "the lock changed since you looked",
      instance: "POST /api/locks/release",
      holders: [{ owner: "tx-1", token: "7" }],
    });
  });

  it("answers an internal error generically, whatever it carries", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const err = new CohortError("INTERNAL", "password=hunter2 at db:5432", { details: { problem: { dsn: "postgres://x" } } });
      const body = (await problemResponse(err).json()) as Record<string, unknown>;
      expect(body).toEqual({ type: "about:blank", title: "Internal error", status: 500, code: "INTERNAL" });
      expect(logged).toHaveBeenCalled();
    } finally {
      logged.mockRestore();
    }
  });
});

describe("problem+json for an unreachable source", () => {
  it("answers 503 with the source and Retry-After, never the driver's text", async () => {
    const err = Object.assign(new Error("connect ECONNREFUSED 10.1.2.3:6543"), { code: "ECONNREFUSED" });
    const response = problemResponse(err, "GET /api/transactions");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("5");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 503, code: "SOURCE_UNAVAILABLE", source: "coordinator database", retryAfter: 5 });
    expect(JSON.stringify(body)).not.toContain("10.1.2.3");
  });

  it("describes a CohortError made by another copy of the module", async () => {
    vi.resetModules();
    const other = await import("../errors");
    const response = problemResponse(new other.CohortError("BAD_REQUEST", "cursor: must be a cursor"), "GET /api/locks");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "BAD_REQUEST", detail: "cursor: must be a cursor" });
  });
});
