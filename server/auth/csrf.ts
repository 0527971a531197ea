// Cross-site request defences for mutations (DESIGN.md §7). SameSite=Strict already keeps the
// session cookie off cross-site requests in current browsers; the Origin check and the
// per-session token below also hold where SameSite does not (older browsers, same-site
// subdomains, a cookie set by a sibling host).
import { timingSafeEqual } from "node:crypto";

export const CSRF_HEADER = "x-csrf-token";

const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function isMutation(method: string): boolean {
  return MUTATIONS.has(method.toUpperCase());
}

/**
 * True when the request's Origin is the console itself. Browsers send Origin on every
 * non-GET fetch and form post, so a missing (or "null") Origin is refused as well: the
 * console's own tools talk to the database, not to this API.
 */
export function hasSameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  if (!origin || origin === "null") return false;
  // Host-based: behind a TLS-terminating proxy the scheme the server sees differs from the
  // browser's, the host does not.
  const host = request.headers.get("host") ?? new URL(request.url).host;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** Constant-time comparison of the header against the session's token. */
export function csrfTokenMatches(expected: string, given: string | null | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
