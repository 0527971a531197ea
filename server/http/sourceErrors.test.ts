import { describe, expect, it } from "vitest";
import { CohortError } from "../errors";
import { asSourceUnavailable, unreachableSource } from "./sourceErrors";

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

describe("unreachable sources", () => {
  it("names the coordinator database for pg and Prisma connection failures", () => {
    for (const err of [
      errno("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"),
      errno("ECONNRESET", "read ECONNRESET"),
      errno("57P01", "terminating connection due to administrator command"),
      errno("53300", 'too many connections for database "cohort"'),
      errno("08006", "connection failure"),
      new Error("Connection terminated unexpectedly"),
      new Error("timeout exceeded when trying to connect"),
      Object.assign(new Error("Can't reach database server"), { name: "PrismaClientKnownRequestError", code: "P1001" }),
      Object.assign(new Error("Invalid invocation"), {
        name: "PrismaClientKnownRequestError",
        code: "P2010",
        meta: { driverAdapterError: { name: "DriverAdapterError", cause: { kind: "DatabaseNotReachable", host: "h" } } },
      }),
      new CohortError("INTERNAL", "log write failed", { cause: errno("ECONNRESET", "read ECONNRESET") }),
    ]) {
      expect(unreachableSource(err), String(err)).toBe("coordinator database");
    }
  });

  it("names Redis for ioredis failures", () => {
    for (const err of [
      new Error("Connection is closed."),
      Object.assign(new Error("Reached the max retries per request limit (which is 3)."), { name: "MaxRetriesPerRequestError" }),
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    ]) {
      expect(unreachableSource(err), String(err)).toBe("Redis");
    }
  });

  it("leaves everything else alone", () => {
    for (const err of [new Error("boom"), errno("23505", "duplicate key"), new TypeError("x is undefined"), null, "text"]) {
      expect(unreachableSource(err)).toBeNull();
    }
  });

  it("answers SOURCE_UNAVAILABLE with the name, a retry hint and no driver text", () => {
    const err = asSourceUnavailable(errno("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.7:5432 user=cohort"))!;
    expect(err.code).toBe("SOURCE_UNAVAILABLE");
    expect(err.status).toBe(503);
    expect(err.message).not.toContain("10.0.0.7");
    expect(err.details).toMatchObject({ problem: { source: "coordinator database" }, retryAfterSeconds: 5 });
  });
});
