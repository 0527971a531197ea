// Sessions against the real database: only the token's hash is stored, expiry slides with
// use up to an absolute limit, and revoking, disabling or demoting applies at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import {
  createSession,
  hashSessionToken,
  liveSessionHashes,
  lookupSession,
  revokeSession,
  revokeUserSessions,
  SESSION_ABSOLUTE_MS,
  SESSION_IDLE_MS,
} from "./sessions";
import { changeRole, createUser, disableUser, enableUser, listUsers, resetPassword } from "./users";
import { isCohortError } from "../errors";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 2 });
});
afterAll(async () => {
  await env?.cleanup();
});

let seq = 0;
const newUser = async (role: "viewer" | "operator" | "admin" = "viewer") =>
  (await createUser(env.prisma, { name: `sess-${++seq}`, role, password: "a long enough password" })).user;

describe("sessions", () => {
  it("stores only the SHA-256 of the token and finds the session by the token", async () => {
    const user = await newUser("operator");
    const { token, csrfToken } = await createSession(env.prisma, user.id, { address: "10.0.0.1", userAgent: "vitest" });
    const rows = await env.prisma.session.findMany({ where: { userId: user.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.tokenHash).toBe(hashSessionToken(token));
    expect(JSON.stringify(rows)).not.toContain(token);
    const session = await lookupSession(env.prisma, token);
    expect(session?.user).toEqual({ id: user.id, name: user.name, role: "operator" });
    expect(session?.csrfToken).toBe(csrfToken);
    expect((await env.prisma.user.findUnique({ where: { id: user.id } }))?.lastLoginAt).not.toBeNull();
  });

  it("returns null for missing, malformed and unknown tokens", async () => {
    for (const token of [undefined, null, "", "short", "x".repeat(43), "!".repeat(43)]) {
      expect(await lookupSession(env.prisma, token)).toBeNull();
    }
  });

  it("expires when idle, slides with use, and stops at the absolute limit", async () => {
    const user = await newUser();
    const t0 = new Date("2030-01-01T00:00:00Z");
    const { token } = await createSession(env.prisma, user.id, {}, t0);
    const at = (ms: number) => new Date(t0.getTime() + ms);
    expect(await lookupSession(env.prisma, token, at(SESSION_IDLE_MS - 1000))).not.toBeNull();
    // That use moved the idle deadline forward.
    const later = at(SESSION_IDLE_MS + 60_000);
    expect(await lookupSession(env.prisma, token, later)).not.toBeNull();
    // Used every few hours, it still ends at the absolute limit.
    let now = later.getTime();
    while (now < t0.getTime() + SESSION_ABSOLUTE_MS - SESSION_IDLE_MS / 2) {
      now += SESSION_IDLE_MS / 2;
      expect(await lookupSession(env.prisma, token, new Date(now))).not.toBeNull();
    }
    expect(await lookupSession(env.prisma, token, at(SESSION_ABSOLUTE_MS + 1000))).toBeNull();
  });

  it("expires without use after the idle period", async () => {
    const user = await newUser();
    const t0 = new Date("2031-01-01T00:00:00Z");
    const { token } = await createSession(env.prisma, user.id, {}, t0);
    expect(await lookupSession(env.prisma, token, new Date(t0.getTime() + SESSION_IDLE_MS + 1))).toBeNull();
  });

  it("revokes one session, or all of a user's", async () => {
    const user = await newUser();
    const a = await createSession(env.prisma, user.id);
    const b = await createSession(env.prisma, user.id);
    await revokeSession(env.prisma, hashSessionToken(a.token));
    expect(await lookupSession(env.prisma, a.token)).toBeNull();
    expect(await lookupSession(env.prisma, b.token)).not.toBeNull();
    expect(await revokeUserSessions(env.prisma, user.id)).toBe(1);
    expect(await lookupSession(env.prisma, b.token)).toBeNull();
  });

  it("applies a role change to a live session and ends sessions on disable and password reset", async () => {
    const user = await newUser("viewer");
    const first = await createSession(env.prisma, user.id);
    await changeRole(env.prisma, { id: user.id }, "admin");
    expect((await lookupSession(env.prisma, first.token))?.user.role).toBe("admin");

    await disableUser(env.prisma, { id: user.id });
    expect(await lookupSession(env.prisma, first.token)).toBeNull();
    await enableUser(env.prisma, { id: user.id });
    // Re-enabling does not bring ended sessions back.
    expect(await lookupSession(env.prisma, first.token)).toBeNull();

    const second = await createSession(env.prisma, user.id);
    expect(await liveSessionHashes(env.prisma, [hashSessionToken(second.token), hashSessionToken(first.token)])).toEqual(
      new Set([hashSessionToken(second.token)]),
    );
    const generated = await resetPassword(env.prisma, { id: user.id });
    expect(generated).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(await lookupSession(env.prisma, second.token)).toBeNull();
  });

  it("refuses duplicate and malformed names, and never lists password hashes", async () => {
    await createUser(env.prisma, { name: "Dup-User", role: "viewer", password: "a long enough password" });
    const err = await createUser(env.prisma, { name: "dup-user ", role: "viewer" }).catch((e: unknown) => e);
    expect(isCohortError(err, "CONFLICT")).toBe(true);
    for (const name of ["", "a", "1abc", "has space", "x".repeat(40), "ünï"]) {
      const bad = await createUser(env.prisma, { name, role: "viewer" }).catch((e: unknown) => e);
      expect(isCohortError(bad, "BAD_REQUEST")).toBe(true);
    }
    const short = await createUser(env.prisma, { name: "shortpw", role: "viewer", password: "short" }).catch((e: unknown) => e);
    expect(isCohortError(short, "BAD_REQUEST")).toBe(true);
    const users = await listUsers(env.prisma);
    expect(users.find((u) => u.name === "dup-user")).toBeTruthy();
    expect(JSON.stringify(users)).not.toContain("scrypt$");
  });
});
