import { describe, expect, it } from "vitest";
import { csrfTokenMatches, hasSameOrigin, isMutation } from "./csrf";
import { safeNextPath } from "./pageAuth";
import { roleAtLeast } from "./roles";
import { readSessionToken } from "./sessions";

const request = (headers: Record<string, string>, url = "http://console.test/api/x") =>
  new Request(url, { method: "POST", headers });

describe("csrf", () => {
  it("treats POST, PUT, PATCH and DELETE as mutations", () => {
    for (const m of ["POST", "put", "PATCH", "DELETE"]) expect(isMutation(m)).toBe(true);
    for (const m of ["GET", "HEAD", "OPTIONS"]) expect(isMutation(m)).toBe(false);
  });

  it("accepts only the console's own origin, compared by host", () => {
    expect(hasSameOrigin(request({ origin: "http://console.test" }))).toBe(true);
    expect(hasSameOrigin(request({ origin: "https://console.test" }))).toBe(true); // TLS ends at a proxy
    expect(hasSameOrigin(request({ origin: "http://console.test", host: "console.test" }))).toBe(true);
    expect(hasSameOrigin(request({ origin: "http://localhost:3100", host: "localhost:3100" }))).toBe(true);
    expect(hasSameOrigin(request({ origin: "http://evil.test" }))).toBe(false);
    expect(hasSameOrigin(request({ origin: "http://console.test.evil.test" }))).toBe(false);
    expect(hasSameOrigin(request({ origin: "http://console.test:8080" }))).toBe(false);
    expect(hasSameOrigin(request({ origin: "http://localhost:3100", host: "localhost:3101" }))).toBe(false);
    expect(hasSameOrigin(request({ origin: "null" }))).toBe(false);
    expect(hasSameOrigin(request({ origin: "not a url" }))).toBe(false);
    expect(hasSameOrigin(request({}))).toBe(false);
  });

  it("compares tokens exactly", () => {
    expect(csrfTokenMatches("abc123", "abc123")).toBe(true);
    expect(csrfTokenMatches("abc123", "abc124")).toBe(false);
    expect(csrfTokenMatches("abc123", "abc12")).toBe(false);
    expect(csrfTokenMatches("abc123", "")).toBe(false);
    expect(csrfTokenMatches("abc123", null)).toBe(false);
  });
});

describe("session cookie and redirects", () => {
  it("reads the session token among other cookies", () => {
    expect(readSessionToken("a=1; cohort_session=tok; b=2")).toBe("tok");
    expect(readSessionToken("cohort_session_x=1; xcohort_session=2")).toBeNull();
    expect(readSessionToken("cohort_session=")).toBeNull();
    expect(readSessionToken(null)).toBeNull();
  });

  it("only redirects to local paths after sign-in", () => {
    expect(safeNextPath("/transactions/abc?x=1")).toBe("/transactions/abc?x=1");
    for (const bad of [
      "//evil.test",
      "/\\evil.test",
      "https://evil.test",
      "evil",
      "/\t/evil.test",
      "/a\nb",
      "",
      null,
      undefined,
    ]) {
      expect(safeNextPath(bad)).toBe("/");
    }
  });

  it("orders roles viewer < operator < admin", () => {
    expect(roleAtLeast("admin", "operator")).toBe(true);
    expect(roleAtLeast("operator", "operator")).toBe(true);
    expect(roleAtLeast("viewer", "operator")).toBe(false);
    expect(roleAtLeast("operator", "admin")).toBe(false);
  });
});
