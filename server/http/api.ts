// THE route wrapper (DESIGN.md §7, §8), in the manner of formbricks' withV3ApiWrapper and
// dub's withWorkspace. Every route handler goes through it, so authentication, the role
// check, Origin and CSRF checks on mutations, input parsing and the mapping of errors to
// problem+json happen in one place and cannot be forgotten by a single route.
//
// Order of checks: Origin (mutations) → session (401) → CSRF token (mutations, 403) →
// role (403, audited for mutations) → params, query, body (400/413/415) → handler. Nothing reaches a handler
// unauthenticated or unparsed, and bad input always ends as a 4xx.
import { connection } from "next/server";
import { z } from "zod";
import { recordRefusal } from "../audit/audited";
import { csrfTokenMatches, CSRF_HEADER, hasSameOrigin, isMutation } from "../auth/csrf";
import { roleAtLeast, type Role, type SessionUser } from "../auth/roles";
import { lookupSession, readSessionToken, type Session } from "../auth/sessions";
import { CohortError } from "../errors";
import { getRuntime } from "../runtime";
import { storableText, unstorableText } from "../db/storableText";
import { problemResponse, type FieldError } from "./problem";

export type { SessionUser } from "../auth/roles";
export type ApiRole = "public" | Role;

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/** The audit action of a mutation refused for the user's role (target type "route"). */
export const FORBIDDEN_ACTION = "api.forbidden";

export interface ApiOptions<P, Q, B> {
  /** The lowest role allowed; "public" skips authentication (and CSRF, but not Origin). */
  role: ApiRole;
  /** Dynamic segments; values arrive as strings (or string arrays for catch-alls). */
  params?: z.ZodType<P>;
  /** Query string; values arrive as strings (arrays when a key repeats): use z.coerce. */
  query?: z.ZodType<Q>;
  /** JSON body; without a schema the body is not read at all. */
  body?: z.ZodType<B>;
  /** Larger bodies are refused with 413. Default 64 KiB. */
  maxBodyBytes?: number;
}

export interface ApiContext<P, Q, B> {
  /** null only on "public" routes, which never act on behalf of a signed-in user. */
  user: SessionUser | null;
  /** The session behind `user` (its CSRF token, expiry); null when `user` is. */
  session: Session | null;
  params: P;
  query: Q;
  body: B;
  request: Request;
}

/** What handlers of routes with a role (anything but "public") receive: never without a user. */
export interface SignedInContext<P, Q, B> extends ApiContext<P, Q, B> {
  user: SessionUser;
  session: Session;
}

export type RouteContext = { params: Promise<Record<string, string | string[]>> };
export type RouteHandler = (request: Request, route: RouteContext) => Promise<Response>;

type RawParams = Record<string, string | string[]>;

/** Mutation bodies of operator actions include `reason: reasonSchema` (DESIGN.md §2, §7). */
export const reasonSchema = z
  .string({ error: "a reason is required" })
  .trim()
  .min(3, "a reason is required")
  .max(500, "a reason must be at most 500 characters");

/**
 * Wraps a route handler. The handler may return a Response (passed through) or any
 * JSON-serialisable value (sent as 200 JSON; bigints become strings). It throws
 * CohortError for expected failures; anything else becomes a logged, generic 500.
 */
export function api<P = RawParams, Q = RawParams, B = undefined>(
  opts: ApiOptions<P, Q, B> & { role: Role },
  handler: (ctx: SignedInContext<P, Q, B>) => Promise<Response | unknown>,
): RouteHandler;
export function api<P = RawParams, Q = RawParams, B = undefined>(
  opts: ApiOptions<P, Q, B>,
  handler: (ctx: ApiContext<P, Q, B>) => Promise<Response | unknown>,
): RouteHandler;
export function api<P = RawParams, Q = RawParams, B = undefined>(
  opts: ApiOptions<P, Q, B>,
  // The narrower context of the two overloads; public handlers accept it as well.
  handler: (ctx: SignedInContext<P, Q, B>) => Promise<Response | unknown>,
): RouteHandler {
  return async (request, route) => {
    await markDynamic();
    const instance = safePathname(request.url);
    try {
      const mutation = isMutation(request.method);
      if (mutation && !hasSameOrigin(request)) {
        throw new CohortError("CSRF_FAILED", "cross-origin request refused: the Origin header must be this console");
      }
      let session: Session | null = null;
      if (opts.role !== "public") {
        session = await lookupSession(getRuntime().prisma, readSessionToken(request.headers.get("cookie")));
        if (!session) throw new CohortError("UNAUTHENTICATED", "sign in to continue: the session is missing or has expired");
        if (mutation && !csrfTokenMatches(session.csrfToken, request.headers.get(CSRF_HEADER))) {
          throw new CohortError("CSRF_FAILED", `missing or wrong ${CSRF_HEADER} header: reload the page and try again`);
        }
        if (!roleAtLeast(session.user.role, opts.role)) {
          const refusal = new CohortError("FORBIDDEN", `this needs the ${opts.role} role (you are ${session.user.role})`);
          if (mutation)
            await auditForbidden(request, session.user, instance, opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, refusal);
          throw refusal;
        }
      }
      const rawParams = (await route?.params) ?? {};
      // Without a schema the raw values reach the handler: they are still checked for text
      // PostgreSQL cannot store.
      const params = opts.params ? await parseInput(opts.params, rawParams, "params") : storable<P>(rawParams, "params");
      const rawQuery = queryObject(request.url);
      const query = opts.query ? await parseInput(opts.query, rawQuery, "query") : storable<Q>(rawQuery, "query");
      const body = opts.body
        ? await parseInput(opts.body, await readJsonBody(request, opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES), "body")
        : (undefined as B);

      const ctx: ApiContext<P, Q, B> = { user: session?.user ?? null, session, params, query, body, request };
      // Non-null for every role but "public" (checked above); public handlers are typed nullable.
      const result = await handler(ctx as SignedInContext<P, Q, B>);
      if (result instanceof Response) return result;
      return new Response(JSON.stringify(result ?? null, jsonReplacer), {
        status: 200,
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    } catch (err) {
      return problemResponse(err, `${request.method} ${instance}`);
    }
  };
}

/**
 * A mutation refused for the role is an attempted operator or admin action, so it is audited
 * like every other refusal (DESIGN.md §2), here once for every route: the user, the route
 * and the reason the request gave, if any. Reads refused for the role are not actions.
 * Requests refused before a session is known (Origin, no session, CSRF) have no user to
 * name, and anyone could send them.
 */
async function auditForbidden(
  request: Request,
  user: SessionUser,
  instance: string,
  maxBodyBytes: number,
  refusal: CohortError,
): Promise<void> {
  const body = await readJsonBody(request, maxBodyBytes).catch(() => undefined);
  const given = typeof body === "object" && body !== null ? (body as { reason?: unknown }).reason : undefined;
  const reason = typeof given === "string" ? storableText(given).trim().slice(0, 500) : "";
  await recordRefusal(
    getRuntime().prisma,
    {
      user: { id: user.id, name: user.name },
      action: FORBIDDEN_ACTION,
      targetType: "route",
      targetId: `${request.method} ${instance}`,
      reason: reason || null,
    },
    refusal,
  );
}

/**
 * Marks the route as dynamic, so `next build` never tries to prerender it (the rejection
 * Next.js uses to stop a prerender passes through). Outside Next.js, as when integration
 * tests call handlers with plain Requests, there is no request scope, and nothing to mark.
 */
async function markDynamic(): Promise<void> {
  try {
    await connection();
  } catch (err) {
    if (!(err instanceof Error && err.message.includes("outside a request scope"))) throw err;
  }
}

/** `value` unchanged, or a 400 naming the first string in it that PostgreSQL cannot store. */
function storable<T>(value: unknown, where: FieldError["in"]): T {
  const bad = findUnstorable(value);
  if (bad !== null) {
    const errors: FieldError[] = [{ in: where, field: bad.field, detail: bad.detail }];
    throw new CohortError("BAD_REQUEST", `invalid ${where}: ${bad.field ? `${bad.field}: ` : ""}${bad.detail}`, {
      details: { errors },
    });
  }
  return value as T;
}

async function parseInput<T>(schema: z.ZodType<T>, value: unknown, where: FieldError["in"]): Promise<T> {
  storable<unknown>(value, where);
  const parsed = await schema.safeParseAsync(value);
  if (parsed.success) return parsed.data;
  const errors: FieldError[] = parsed.error.issues.map((issue) => ({
    in: where,
    field: issue.path.map(String).join("."),
    // A repeated query key arrives as an array, which schemas refuse as "expected string".
    detail:
      where === "query" && issue.path.length === 1 && Array.isArray((value as Record<PropertyKey, unknown>)[issue.path[0]!])
        ? "is given more than once: give it once"
        : issue.message,
  }));
  const first = errors[0];
  const summary = first ? `${first.field ? `${first.field}: ` : ""}${first.detail}` : "invalid input";
  throw new CohortError("BAD_REQUEST", `invalid ${where}: ${summary}`, { details: { errors } });
}

/**
 * The first string (or key) PostgreSQL text could not hold (see unstorableText), or null.
 * Every string of every input is checked, whatever its schema, so no route can forget one.
 */
function findUnstorable(value: unknown, path: string[] = [], depth = 0): { field: string; detail: string } | null {
  if (typeof value === "string") {
    const detail = unstorableText(value);
    return detail === null ? null : { field: path.join("."), detail };
  }
  if (typeof value !== "object" || value === null || depth > 64) return null;
  for (const [key, child] of Object.entries(value)) {
    const detail = unstorableText(key);
    if (detail !== null) return { field: [...path, storableText(key)].join("."), detail: `key ${detail}` };
    const found = findUnstorable(child, [...path, key], depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/**
 * undefined for an empty body (the schema decides whether that is allowed); otherwise the
 * parsed JSON. Size is enforced while streaming, since Content-Length may be absent or lie.
 */
async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () => new CohortError("PAYLOAD_TOO_LARGE", `the request body must be at most ${maxBytes} bytes`);
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!request.body) return undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (total === 0) return undefined;
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json" && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new CohortError("UNSUPPORTED_MEDIA_TYPE", "the request body must be JSON (Content-Type: application/json)");
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new CohortError("BAD_REQUEST", "the request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CohortError("BAD_REQUEST", "the request body is not valid JSON");
  }
}

function queryObject(url: string): Record<string, string | string[]> {
  // No prototype: "?__proto__=…" must stay an ordinary key.
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of new URL(url).searchParams) {
    const seen = out[key];
    out[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

function safePathname(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "request";
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
