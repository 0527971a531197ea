// The browser's way to call the console API. Mutations carry the session's CSRF token in
// x-csrf-token (DESIGN.md §7), read from the <meta name="csrf-token"> the layout renders or,
// failing that, from /api/auth/me. Problem+json answers become an ApiError with the status,
// code, detail and per-field errors, so forms can show what the server said.
import type { FieldError, Problem } from "@/server/http/problem";

export type { FieldError } from "@/server/http/problem";

export const CSRF_HEADER = "x-csrf-token";
export const CSRF_META = "csrf-token";

export type ApiMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface ApiFetchInit {
  method?: ApiMethod;
  /** Sent as JSON. */
  body?: unknown;
  /** Appended to the path; undefined and null values are left out. */
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
  /** Send the CSRF token on mutations (default true; only sign-in, which has no session yet, turns it off). */
  csrf?: boolean;
  /** On 401, go to /login and come back afterwards (default true; the login form turns it off). */
  redirectOnUnauthenticated?: boolean;
  /** A request without an answer after this long fails, so no page waits forever (default 20 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;

export class ApiError extends Error {
  readonly status: number;
  /** The server's error code (e.g. BAD_REQUEST, CSRF_FAILED, DECISION_CONFLICT), or HTTP_<status>. */
  readonly code: string;
  readonly detail: string | null;
  readonly errors: FieldError[];
  /** The first message per field ("" for the whole value), for showing next to inputs. */
  readonly fieldErrors: Record<string, string>;
  /** Seconds to wait before retrying (429, 503). */
  readonly retryAfter: number | null;
  /** The unreachable source behind a 503 SOURCE_UNAVAILABLE ("Redis", "coordinator database"). */
  readonly source: string | null;

  constructor(status: number, problem: Partial<Problem> | null) {
    const detail = typeof problem?.detail === "string" ? problem.detail : null;
    super(readableMessage(status, detail, problem?.title));
    this.name = "ApiError";
    this.status = status;
    this.code = typeof problem?.code === "string" ? problem.code : `HTTP_${status}`;
    this.detail = detail;
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
    const fieldErrors: Record<string, string> = {};
    for (const e of this.errors) fieldErrors[e.field] ??= e.detail;
    this.fieldErrors = fieldErrors;
    this.retryAfter = typeof problem?.retryAfter === "number" ? problem.retryAfter : null;
    const source = (problem as { source?: unknown } | null)?.source;
    this.source = typeof source === "string" ? source : null;
  }
}

export function isApiError(err: unknown, code?: string): err is ApiError {
  return err instanceof ApiError && (code === undefined || err.code === code);
}

export async function apiFetch<T = unknown>(path: string, init: ApiFetchInit = {}): Promise<T> {
  const method = init.method ?? "GET";
  const mutation = method !== "GET" && init.csrf !== false;
  const send = async (): Promise<Response> => {
    const headers: Record<string, string> = { accept: "application/json" };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    if (mutation) headers[CSRF_HEADER] = await getCsrfToken();
    const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await fetch(withQuery(path, init.query), {
        method,
        headers,
        body: init.body === undefined ? null : JSON.stringify(init.body),
        signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
        cache: "no-store",
        credentials: "same-origin",
      });
    } catch (err) {
      if (timeout.aborted && !init.signal?.aborted) {
        throw new ApiError(0, { detail: `the console did not answer within ${timeoutMs / 1000} s` });
      }
      // Cancellation (TanStack Query aborting a stale request) must stay an AbortError.
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      throw new ApiError(0, null);
    }
  };

  let response = await send();
  if (mutation && response.status === 403 && (await peekCode(response)) === "CSRF_FAILED") {
    // The page may hold the token of an older session (signed in again in another tab). A
    // refused request changed nothing, so it is safe to send once more with a fresh token.
    csrfToken = null;
    response = await send();
  }
  if (response.ok) {
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
  const problem = (await response.json().catch(() => null)) as Partial<Problem> | null;
  const error = new ApiError(response.status, problem);
  if (response.status === 401 && init.redirectOnUnauthenticated !== false && typeof window !== "undefined") {
    const here = window.location.pathname + window.location.search;
    if (!window.location.pathname.startsWith("/login")) window.location.assign(`/login?next=${encodeURIComponent(here)}`);
  }
  throw error;
}

let csrfToken: string | null = null;
/** The layout's meta tag is used at most once: after a refusal the server is asked instead. */
let metaUsed = false;

/** The CSRF token for this session: from the page, else from the server. */
export async function getCsrfToken(): Promise<string> {
  if (csrfToken) return csrfToken;
  const fromMeta = typeof document === "undefined" ? null : document.querySelector(`meta[name="${CSRF_META}"]`);
  const content = fromMeta?.getAttribute("content");
  if (content && !metaUsed) {
    metaUsed = true;
    csrfToken = content;
    return content;
  }
  const response = await fetch("/api/auth/me", { cache: "no-store", headers: { accept: "application/json" } });
  if (!response.ok) {
    const problem = (await response.json().catch(() => null)) as Partial<Problem> | null;
    throw new ApiError(response.status, problem);
  }
  const me = (await response.json()) as { csrfToken: string };
  csrfToken = me.csrfToken;
  return csrfToken;
}

/** Forgets the cached token (after signing out or in). */
export function resetCsrfToken(): void {
  csrfToken = null;
  metaUsed = false;
}

function withQuery(path: string, query: ApiFetchInit["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null) params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

/** Reads the problem code without consuming the body the caller may still need. */
async function peekCode(response: Response): Promise<string | null> {
  const problem = (await response
    .clone()
    .json()
    .catch(() => null)) as { code?: unknown } | null;
  return typeof problem?.code === "string" ? problem.code : null;
}

function readableMessage(status: number, detail: string | null, title: string | undefined): string {
  if (detail) return detail.charAt(0).toUpperCase() + detail.slice(1);
  if (status === 0) return "The console did not answer. Check the connection.";
  return title ? `${title} (HTTP ${status})` : `Request failed (HTTP ${status})`;
}
