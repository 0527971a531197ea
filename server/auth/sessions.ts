// Server-side sessions (DESIGN.md §7). The browser holds a random token in an httpOnly,
// SameSite=Strict cookie; the database holds only its SHA-256, so a leaked sessions table
// cannot be replayed. The role is read from the user row on every lookup, so role changes
// and disabling apply to live sessions at once.
import { createHash, randomBytes } from "node:crypto";
import { cache } from "react";
import { getRuntime } from "../runtime";
import type { SessionUser } from "./roles";
import type { Db } from "./users";

export const SESSION_COOKIE = "cohort_session";
/** Signed out after this long without a request… */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** …and after this long regardless, so a stolen cookie stops working eventually. */
export const SESSION_ABSOLUTE_MS = 7 * 24 * 60 * 60 * 1000;
/** lastSeenAt (and the idle deadline) is written at most this often: not one write per request. */
const TOUCH_EVERY_MS = 60 * 1000;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export interface Session {
  /** SHA-256 of the cookie token, hex: the row's key. */
  tokenHash: string;
  csrfToken: string;
  expiresAt: Date;
  user: SessionUser;
}

export interface NewSession {
  /** Goes into the cookie and nowhere else. */
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

export function hashSessionToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function createSession(
  db: Db,
  userId: string,
  meta: { userAgent?: string | null; address?: string | null } = {},
  now = new Date(),
): Promise<NewSession> {
  const token = randomBytes(32).toString("base64url");
  const csrfToken = randomBytes(32).toString("base64url");
  const expiresAt = new Date(now.getTime() + SESSION_IDLE_MS);
  // Logins are rare, so they pay for removing expired rows; nothing else needs a sweeper.
  await db.session.deleteMany({ where: { expiresAt: { lt: now } } });
  await db.session.create({
    data: {
      tokenHash: hashSessionToken(token),
      userId,
      csrfToken,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      userAgent: meta.userAgent?.slice(0, 300) ?? null,
      address: meta.address?.slice(0, 100) ?? null,
    },
  });
  await db.user.update({ where: { id: userId }, data: { lastLoginAt: now } });
  return { token, csrfToken, expiresAt };
}

/** The live session for a cookie token, or null (missing, malformed, expired, revoked, user disabled). */
export async function lookupSession(db: Db, token: string | null | undefined, now = new Date()): Promise<Session | null> {
  if (!token || !TOKEN_SHAPE.test(token)) return null;
  const tokenHash = hashSessionToken(token);
  const row = await db.session.findUnique({
    where: { tokenHash },
    select: {
      csrfToken: true,
      createdAt: true,
      lastSeenAt: true,
      expiresAt: true,
      user: { select: { id: true, name: true, role: true, disabledAt: true } },
    },
  });
  if (!row || row.expiresAt <= now || row.user.disabledAt !== null) return null;
  let expiresAt = row.expiresAt;
  if (now.getTime() - row.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
    expiresAt = new Date(Math.min(now.getTime() + SESSION_IDLE_MS, row.createdAt.getTime() + SESSION_ABSOLUTE_MS));
    // Sliding expiry is a convenience: a failed touch must not fail the request.
    await db.session
      .updateMany({ where: { tokenHash }, data: { lastSeenAt: now, expiresAt } })
      .catch((err: unknown) => console.error("[auth] session touch failed:", err));
  }
  return {
    tokenHash,
    csrfToken: row.csrfToken,
    expiresAt,
    user: { id: row.user.id, name: row.user.name, role: row.user.role },
  };
}

export async function revokeSession(db: Db, tokenHash: string): Promise<void> {
  await db.session.deleteMany({ where: { tokenHash } });
}

export async function revokeUserSessions(db: Db, userId: string): Promise<number> {
  return (await db.session.deleteMany({ where: { userId } })).count;
}

/** Token hashes of the given sessions that are still valid (the socket re-check, see socketAuth.ts). */
export async function liveSessionHashes(db: Db, tokenHashes: string[], now = new Date()): Promise<Set<string>> {
  if (tokenHashes.length === 0) return new Set();
  const rows = await db.session.findMany({
    where: { tokenHash: { in: tokenHashes }, expiresAt: { gt: now }, user: { disabledAt: null } },
    select: { tokenHash: true },
  });
  return new Set(rows.map((r) => r.tokenHash));
}

/** The session token from a Cookie header (route handlers and socket handshakes). */
export function readSessionToken(cookieHeader: string | null | undefined): string | null {
  if (!cookieHeader) return null;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/**
 * Secure only over https: the demo runs on plain http://localhost, where a Secure cookie
 * would never be sent back. Behind a TLS-terminating proxy, x-forwarded-proto says https.
 */
export function isHttpsRequest(request: Request): boolean {
  const forwarded = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim();
  return forwarded === "https" || new URL(request.url).protocol === "https:";
}

export function sessionCookieHeader(token: string, opts: { secure: boolean }): string {
  const maxAge = Math.floor(SESSION_ABSOLUTE_MS / 1000);
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${opts.secure ? "; Secure" : ""}`;
}

export function clearedSessionCookieHeader(opts: { secure: boolean }): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${opts.secure ? "; Secure" : ""}`;
}

/**
 * The signed-in session for server components and pages (reads the request's cookies).
 * cache(): the layout and the page of one render share a single lookup.
 */
export const getSession = cache(async (): Promise<Session | null> => {
  // Imported here, not at the top: this module also runs outside Next.js (socket
  // authentication in the console process), where loading next/headers throws.
  const { cookies } = await import("next/headers");
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return null;
  return lookupSession(getRuntime().prisma, token);
});

export async function getSessionUser(): Promise<SessionUser | null> {
  return (await getSession())?.user ?? null;
}
