// Calling route handlers in integration tests without a server: Request objects in,
// Responses out, through the real api() wrapper, with real sessions in the test database.
import { randomBytes } from "node:crypto";
import { CSRF_HEADER } from "../auth/csrf";
import { createSession } from "../auth/sessions";
import { createUser } from "../auth/users";
import type { Role, SessionUser } from "../auth/roles";
import { loadConfig } from "../config";
import type { RouteHandler } from "../http/api";
import { setRuntime } from "../runtime";
import type { TestEnv } from "./testEnv";

export const TEST_ORIGIN = "http://console.test";

/** Points getRuntime() (used by route handlers and api()) at the test environment. */
export function useTestRuntime(env: TestEnv): void {
  setRuntime({
    config: loadConfig({}),
    prisma: env.prisma,
    pool: env.db.pool,
    redis: env.redis,
    shardNames: env.shards.map((s) => s.name),
    shards: env.shards,
    engine: null,
    locks: null,
    queues: { namespace: env.namespace, reclaimIdleMs: 30_000, rabbit: null },
  });
}

export interface TestSession {
  user: SessionUser;
  password: string;
  /** Value for the Cookie header. */
  cookie: string;
  csrfToken: string;
}

/** A new user with a unique name and a live session. */
export async function createTestSession(env: TestEnv, role: Role, name?: string): Promise<TestSession> {
  const password = randomBytes(12).toString("base64url");
  const { user } = await createUser(env.prisma, { name: name ?? `${role}-${randomBytes(4).toString("hex")}`, role, password });
  const session = await createSession(env.prisma, user.id);
  return {
    user: { id: user.id, name: user.name, role: user.role },
    password,
    cookie: `cohort_session=${session.token}`,
    csrfToken: session.csrfToken,
  };
}

export interface CallOptions {
  method?: string;
  /** Path with the query string, e.g. "/api/audit?limit=5". */
  path: string;
  params?: Record<string, string | string[]>;
  session?: TestSession | null;
  /** Defaults: the console's origin on mutations, the session's CSRF token, JSON content type. */
  headers?: Record<string, string | null>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
}

export async function callRoute(handler: RouteHandler, opts: CallOptions): Promise<Response> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = {};
  if (method !== "GET") headers.origin = TEST_ORIGIN;
  if (opts.session) {
    headers.cookie = opts.session.cookie;
    if (method !== "GET") headers[CSRF_HEADER] = opts.session.csrfToken;
  }
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  for (const [key, value] of Object.entries(opts.headers ?? {})) {
    if (value === null) delete headers[key];
    else headers[key] = value;
  }
  const body = opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  const request = new Request(`${TEST_ORIGIN}${opts.path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  return handler(request, { params: Promise.resolve(opts.params ?? {}) });
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}
