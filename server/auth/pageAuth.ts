// The page-side half of DESIGN.md §7: server components call this before reading anything.
// Route handlers are guarded by server/http/api.ts instead.
import { redirect } from "next/navigation";
import { roleAtLeast, type Role, type SessionUser } from "./roles";
import { getSessionUser } from "./sessions";

export type PageAccess = { user: SessionUser; allowed: true } | { user: SessionUser; allowed: false; required: Role };

/**
 * The signed-in user, or a redirect to /login that comes back to `path` afterwards.
 * With `role`, says whether the user has it, so the page can explain instead of hiding.
 */
export async function requirePageUser(path: string, role: Role = "viewer"): Promise<PageAccess> {
  const user = await getSessionUser();
  if (!user) redirect(loginPath(path));
  return roleAtLeast(user.role, role) ? { user, allowed: true } : { user, allowed: false, required: role };
}

/** /login?next=<path>, with the next path restricted to this site (see safeNextPath). */
export function loginPath(next: string): string {
  const safe = safeNextPath(next);
  return safe === "/" ? "/login" : `/login?next=${encodeURIComponent(safe)}`;
}

/**
 * Only local absolute paths: "//evil.example", "/\\evil.example" or "https://…" would make
 * login an open redirect, and browsers drop tabs and newlines, so "/\t/evil" is "//evil".
 */
export function safeNextPath(next: string | null | undefined): string {
  if (!next || next.length > 2000 || !next.startsWith("/") || next[1] === "/" || next[1] === "\\") return "/";
  for (let i = 0; i < next.length; i++) {
    const code = next.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x5c /* backslash */) return "/";
  }
  return next;
}
