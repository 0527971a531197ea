import { describe, expect, it } from "vitest";
import { isCohortError } from "../errors";
import { decodeCursor, encodeCursor } from "./cursor";

const ID = "0190a8c4-5b7e-7a11-9c3d-1234567890ab";

describe("list cursors", () => {
  it("round-trips the sort key to the millisecond", () => {
    const startedAt = new Date("2026-03-01T12:34:56.789Z");
    const cursor = encodeCursor({ startedAt, id: ID });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({ t: startedAt.getTime(), id: ID });
  });

  it.each([
    ["empty", ""],
    ["not base64url", "abc$def"],
    ["padding", "eyJ0IjoxfQ=="],
    ["not JSON", Buffer.from("hello").toString("base64url")],
    ["JSON of the wrong shape", Buffer.from(JSON.stringify({ t: "soon", id: ID })).toString("base64url")],
    ["a bad id", Buffer.from(JSON.stringify({ t: 1, id: "x'; DROP TABLE transactions; --" })).toString("base64url")],
    ["an uppercase id", Buffer.from(JSON.stringify({ t: 1, id: ID.toUpperCase() })).toString("base64url")],
    ["a fractional time", Buffer.from(JSON.stringify({ t: 1.5, id: ID })).toString("base64url")],
    ["a time out of range", Buffer.from(JSON.stringify({ t: 1e17, id: ID })).toString("base64url")],
    // Valid JavaScript dates that PostgreSQL cannot read as a timestamp.
    ["a time past year 9999", Buffer.from(JSON.stringify({ t: 8.64e15, id: ID })).toString("base64url")],
    ["a time before 1970", Buffer.from(JSON.stringify({ t: -8.64e15, id: ID })).toString("base64url")],
    ["extra keys", Buffer.from(JSON.stringify({ t: 1, id: ID, offset: 5 })).toString("base64url")],
    ["a JSON array", Buffer.from("[1]").toString("base64url")],
    ["too long", "A".repeat(500)],
  ])("rejects %s as BAD_REQUEST", (_, cursor) => {
    let caught: unknown;
    try {
      decodeCursor(cursor);
    } catch (err) {
      caught = err;
    }
    expect(isCohortError(caught, "BAD_REQUEST")).toBe(true);
    expect((caught as { details: { errors: { field: string }[] } }).details.errors[0]!.field).toBe("cursor");
  });
});
