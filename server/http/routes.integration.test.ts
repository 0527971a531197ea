// Every API route through the real api() wrapper, with Request objects and a real database:
//  1. a table-driven probe that throws malformed input at each route (wrong types, huge and
//     broken bodies, unknown and malformed ids, junk query values, missing or foreign Origin,
//     missing CSRF token, no session, too low a role) and requires a 4xx problem+json answer,
//     never a 5xx (DESIGN.md §7 "Bad input");
//     The probes include invalid percent-encoding, lone surrogates, NUL and long strings in
//     params, query, bodies and reasons, and run against runtime objects (lock service,
//     engine) built from another copy of the modules, as Next.js's bundle sees the ones
//     server/main.ts makes: their CohortErrors must keep their 4xx;
//  2. the flows of the auth, users and audit routes.
// To cover another route module, import its handlers and add entries to ROUTES.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as auditRoute from "@/app/api/audit/route";
import * as loginRoute from "@/app/api/auth/login/route";
import * as logoutRoute from "@/app/api/auth/logout/route";
import * as meRoute from "@/app/api/auth/me/route";
import * as inDoubtBulkRoute from "@/app/api/in-doubt/bulk/route";
import * as inDoubtRoute from "@/app/api/in-doubt/route";
import * as lockRoute from "@/app/api/locks/[key]/route";
import * as lockGraphRoute from "@/app/api/locks/graph/route";
import * as lockReleaseRoute from "@/app/api/locks/release/route";
import * as locksRoute from "@/app/api/locks/route";
import * as metricsRoute from "@/app/api/metrics/overview/route";
import * as queueDeadLetterRoute from "@/app/api/queues/dead-letter/route";
import * as queuePurgeRoute from "@/app/api/queues/purge/route";
import * as queueRequeueRoute from "@/app/api/queues/requeue/route";
import * as queueRetryRoute from "@/app/api/queues/retry/route";
import * as queueClaimRoute from "@/app/api/queues/claim/route";
import * as queuesRoute from "@/app/api/queues/route";
import * as queueStreamRoute from "@/app/api/queues/stream/route";
import * as rebalanceRoute from "@/app/api/ring/rebalance/route";
import * as ringRoute from "@/app/api/ring/route";
import * as ringRunRoute from "@/app/api/ring/runs/[id]/[action]/route";
import * as whatIfRoute from "@/app/api/ring/what-if/route";
import * as reconcileRoute from "@/app/api/shards/[name]/reconcile/route";
import * as sourcesRoute from "@/app/api/sources/route";
import * as txActionRoute from "@/app/api/transactions/[id]/actions/[action]/route";
import * as txResolutionRoute from "@/app/api/transactions/[id]/resolution/route";
import * as txRoute from "@/app/api/transactions/[id]/route";
import * as txListRoute from "@/app/api/transactions/route";
import { encodeLockKey } from "@/server/locks/lockKeyInUrl";
import * as userRoute from "@/app/api/users/[id]/route";
import * as usersRoute from "@/app/api/users/route";
import { CLIENT_ADDRESS_HEADER } from "../auth/loginRateLimit";
import type { Role } from "../auth/roles";
import { createUser, type UserSummary } from "../auth/users";
import { PHASE2_GROUP, phase2Stream } from "../queues/phase2Entries";
import { ensureGroup } from "../queues/streamQueue";
import { setRingService, type RingService } from "../ring/ringService";
import { getRuntime, setRuntime } from "../runtime";
import { startRing } from "../ring/startRing";
import {
  callRoute,
  createTestSession,
  json,
  TEST_ORIGIN,
  useTestRuntime,
  type CallOptions,
  type TestSession,
} from "../testing/apiTestKit";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import type { ApiRole, RouteHandler } from "./api";
import { PROBLEM_CONTENT_TYPE } from "./problem";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Data the probes can refer to: created once per file. */
interface Seed {
  /** An existing user the admin routes may act on. */
  target: UserSummary;
  /** This file's phase-2 stream, with its group: known to the queue routes, so ids reach Redis. */
  stream: string;
}

interface RouteUnderTest {
  method: Method;
  /** The URL path with a valid id filled in, e.g. `/api/users/${seed.target.id}`. */
  path: (seed: Seed) => string;
  handler: RouteHandler;
  role: ApiRole;
  /** Valid values of the dynamic segments; each is also probed with malformed and unknown ids. */
  params?: (seed: Seed) => Record<string, string>;
  /** Values of particular params that are well-formed but out of range for this route. */
  edgeParams?: Record<string, string[]>;
  /** A valid body; every key is probed with wrong types, and the body as a whole with junk. */
  body?: (seed: Seed) => Record<string, unknown>;
  /** Query keys to probe with junk values. */
  query?: string[];
  /** Values of particular body keys or query keys that are well-formed but out of range for this route. */
  edgeBody?: Record<string, unknown[]>;
  edgeQuery?: Record<string, string[]>;
  /** Runs before the route's probes. */
  prepare?: (seed: Seed) => Promise<void>;
}

/** A well-formed transaction id that is in no log. */
const UNKNOWN_TX = randomUUID();
/** A consumer of the phase-2 group, alive while the claim route is probed. */
const PROBE_CONSUMER = "probe-consumer";
/** Stream ids that match <ms>-<seq> but are past what Redis accepts (64-bit parts). */
const HUGE_STREAM_IDS = ["18446744073709551616-0", "0-99999999999999999999", "99999999999999999999-99999999999999999999"];
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

const ROUTES: RouteUnderTest[] = [
  {
    method: "POST",
    path: () => "/api/auth/login",
    handler: loginRoute.POST,
    role: "public",
    body: () => ({ name: "nobody", password: "not the password" }),
  },
  { method: "POST", path: () => "/api/auth/logout", handler: logoutRoute.POST, role: "viewer" },
  { method: "GET", path: () => "/api/auth/me", handler: meRoute.GET, role: "viewer" },
  { method: "GET", path: () => "/api/users", handler: usersRoute.GET, role: "admin" },
  {
    method: "POST",
    path: () => "/api/users",
    handler: usersRoute.POST,
    role: "admin",
    body: () => ({ name: `probe-${randomBytes(3).toString("hex")}`, role: "viewer", reason: "probing the API" }),
  },
  {
    method: "PATCH",
    path: (seed) => `/api/users/${seed.target.id}`,
    handler: userRoute.PATCH,
    role: "admin",
    params: (seed) => ({ id: seed.target.id }),
    body: () => ({ role: "operator", reason: "probing the API" }),
  },
  {
    method: "GET",
    path: () => "/api/audit",
    handler: auditRoute.GET,
    role: "viewer",
    query: ["cursor", "limit", "user", "action", "targetType", "targetId", "outcome"],
  },
  // Operator actions and in-doubt resolution (server/ops).
  {
    method: "POST",
    path: () => `/api/transactions/${UNKNOWN_TX}/actions/force-abort`,
    handler: txActionRoute.POST,
    role: "operator",
    params: () => ({ id: UNKNOWN_TX, action: "force-abort" }),
    body: () => ({ reason: "probing the API" }),
  },
  {
    method: "GET",
    path: () => `/api/transactions/${UNKNOWN_TX}/resolution`,
    handler: txResolutionRoute.GET,
    role: "viewer",
    params: () => ({ id: UNKNOWN_TX }),
  },
  {
    method: "GET",
    path: () => "/api/in-doubt",
    handler: inDoubtRoute.GET,
    role: "viewer",
    query: ["shard", "decision", "olderThanSeconds"],
  },
  {
    method: "POST",
    path: () => "/api/in-doubt/bulk",
    handler: inDoubtBulkRoute.POST,
    role: "operator",
    body: () => ({ filter: { decision: "none" }, action: "force-abort", reason: "probing the API" }),
  },
  {
    method: "POST",
    path: () => "/api/shards/shard-a/reconcile",
    handler: reconcileRoute.POST,
    role: "operator",
    params: () => ({ name: "shard-a" }),
    body: () => ({ reason: "probing the API" }),
  },
  // Queues (server/ops/queues.ts): stream names hold colons, so they travel in the query or the body.
  { method: "GET", path: () => "/api/queues", handler: queuesRoute.GET, role: "viewer" },
  {
    method: "GET",
    path: (seed) => `/api/queues/stream?name=${encodeURIComponent(seed.stream)}`,
    handler: queueStreamRoute.GET,
    role: "viewer",
    query: ["name"],
  },
  {
    method: "POST",
    path: () => "/api/queues/retry",
    handler: queueRetryRoute.POST,
    role: "operator",
    body: (seed) => ({ stream: seed.stream, group: PHASE2_GROUP, id: "1-0", reason: "probing the API" }),
    edgeBody: { id: HUGE_STREAM_IDS },
  },
  {
    method: "POST",
    path: () => "/api/queues/dead-letter",
    handler: queueDeadLetterRoute.POST,
    role: "operator",
    body: (seed) => ({ stream: seed.stream, group: PHASE2_GROUP, id: "1-0", reason: "probing the API" }),
    edgeBody: { id: HUGE_STREAM_IDS },
  },
  {
    method: "POST",
    path: () => "/api/queues/claim",
    handler: queueClaimRoute.POST,
    role: "operator",
    body: (seed) => ({
      stream: seed.stream,
      group: PHASE2_GROUP,
      id: "1-0",
      consumer: PROBE_CONSUMER,
      reason: "probing the API",
    }),
    // Made just now, so a claim gets past the liveness check to the entry id.
    prepare: async (seed) => {
      await env.redis.xgroup("DELCONSUMER", seed.stream, PHASE2_GROUP, PROBE_CONSUMER);
      await env.redis.xgroup("CREATECONSUMER", seed.stream, PHASE2_GROUP, PROBE_CONSUMER);
    },
    edgeBody: { id: HUGE_STREAM_IDS },
  },
  {
    method: "POST",
    path: () => "/api/queues/requeue",
    handler: queueRequeueRoute.POST,
    role: "operator",
    body: (seed) => ({ stream: seed.stream, deadId: "1-0", reason: "probing the API" }),
    edgeBody: { deadId: HUGE_STREAM_IDS },
  },
  {
    method: "POST",
    path: () => "/api/queues/purge",
    handler: queuePurgeRoute.POST,
    role: "admin",
    body: (seed) => ({ stream: seed.stream, expectedCount: 1, expectedLastId: "1-0", reason: "probing the API" }),
    edgeBody: { expectedLastId: HUGE_STREAM_IDS },
  },
  // Transactions (server/transactions).
  {
    method: "GET",
    path: () => "/api/transactions",
    handler: txListRoute.GET,
    role: "viewer",
    query: ["state", "label", "shard", "olderThan", "id", "sort", "limit", "cursor"],
    edgeQuery: {
      // Well-formed cursors whose time PostgreSQL cannot hold, or whose fields are off.
      cursor: [
        base64url({ t: -8.64e15, id: UNKNOWN_TX }),
        base64url({ t: 8.64e15, id: UNKNOWN_TX }),
        base64url({ t: -62135596800001, id: UNKNOWN_TX }),
        base64url({ t: 0, id: UNKNOWN_TX.toUpperCase() }),
        base64url({ t: 0, id: UNKNOWN_TX, extra: 1 }),
        base64url({ t: 1.5, id: UNKNOWN_TX }),
        base64url([0, UNKNOWN_TX]),
      ],
      olderThan: ["315360001", "1.5", "Infinity", "0x10"],
      id: ["g", "0".repeat(33), "----", "ABCDEF-"],
    },
  },
  {
    method: "GET",
    path: () => `/api/transactions/${UNKNOWN_TX}`,
    handler: txRoute.GET,
    role: "viewer",
    params: () => ({ id: UNKNOWN_TX }),
  },
  // Locks (server/ops/locks.ts): keys travel as one base64url segment, or in the body.
  {
    method: "GET",
    path: () => "/api/locks",
    handler: locksRoute.GET,
    role: "viewer",
    query: ["prefix", "owner", "mode", "cursor", "limit"],
    edgeQuery: { cursor: [base64url({ k: "x" }), "A".repeat(4000), "AAAA"], prefix: ["\u0001", "a|b"] },
  },
  {
    method: "GET",
    path: () => `/api/locks/${encodeLockKey("probe:lock")}`,
    handler: lockRoute.GET,
    role: "viewer",
    params: () => ({ key: encodeLockKey("probe:lock") }),
    // Keys that decode but that the lock service refuses (it throws, from the runtime's copy).
    edgeParams: { key: ["a\u0000b", "k".repeat(600), "a\u0001b", "\ud800", ""].map(encodeLockKey) },
  },
  { method: "GET", path: () => "/api/locks/graph", handler: lockGraphRoute.GET, role: "viewer" },
  {
    method: "POST",
    path: () => "/api/locks/release",
    handler: lockReleaseRoute.POST,
    role: "operator",
    body: () => ({ key: "probe:lock", expectedToken: "1", reason: "probing the API" }),
    edgeBody: {
      key: ["a\u0001b", "a|b", "x".repeat(512), "x".repeat(600), "a\u0000b", "\ud800"],
      expectedToken: ["9999999999999999999", "0"],
    },
  },
  { method: "GET", path: () => "/api/metrics/overview", handler: metricsRoute.GET, role: "viewer" },
  { method: "GET", path: () => "/api/sources", handler: sourcesRoute.GET, role: "viewer" },
  // The ring (server/ring): reads for viewers, changes for admins.
  { method: "GET", path: () => "/api/ring", handler: ringRoute.GET, role: "viewer" },
  {
    method: "GET",
    path: () => "/api/ring/what-if?op=reweight&shard=shard-a&weight=2",
    handler: whatIfRoute.GET,
    role: "viewer",
    query: ["op", "shard", "weight"],
    edgeQuery: { weight: ["Infinity", "NaN", "1e400", "0x10", "true"], shard: ["shard-z", "SHARD-A"] },
  },
  {
    method: "POST",
    path: () => "/api/ring/rebalance",
    handler: rebalanceRoute.POST,
    role: "admin",
    // A version the ring is not at: a valid request ends in RING_CONFLICT and moves nothing.
    body: () => ({ change: { op: "reweight", shard: "shard-a", weight: 2 }, expectedVersion: 999, reason: "probing the API" }),
    edgeBody: {
      change: [
        { op: "reweight", shard: "shard-a", weight: true },
        { op: "reweight", shard: "shard-a", weight: [2] },
        { op: "reweight", shard: "shard-a", weight: "" },
        { op: "add", shard: "shard-a", weight: null },
        { op: "drop", shard: "shard-a" },
      ],
      expectedVersion: [Number.MAX_SAFE_INTEGER + 2, 1e308, "1"],
    },
  },
  {
    method: "POST",
    path: () => `/api/ring/runs/${UNKNOWN_TX}/cancel`,
    handler: ringRunRoute.POST,
    role: "admin",
    params: () => ({ id: UNKNOWN_TX, action: "cancel" }),
    body: () => ({ reason: "probing the API" }),
  },
];

let env: TestEnv;
let seed: Seed;
/** The ring routes need this process's ring service, as a console that runs an engine has. */
let ring: RingService | undefined;
/** The runtime's engine, from another copy of the modules (see the header). */
let foreignEngine: { stop(opts?: { drainMs?: number }): Promise<void> } | undefined;
/** One user per role; every call gets a fresh session, since logout probes end theirs. */
const roleUsers = new Map<Role, TestSession>();

beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 2 });
  useTestRuntime(env);
  for (const role of ["viewer", "operator", "admin"] as const) roleUsers.set(role, await createTestSession(env, role));
  const target = await createUser(env.prisma, { name: `target-${randomBytes(3).toString("hex")}`, role: "viewer" });
  const stream = phase2Stream(env.namespace);
  await ensureGroup(env.redis, stream, PHASE2_GROUP);
  seed = { target: target.user, stream };
  ring = await startRing({
    prisma: env.prisma,
    redis: env.redis,
    engine: await env.engine(),
    shards: env.shards,
    log: () => undefined,
    watchdogMs: 0,
  });
  // As in the console: Next.js's bundle has its own CohortError class, and the lock service
  // and engine server/main.ts hands it throw theirs.
  vi.resetModules();
  const [{ LockService }, { Engine }] = await Promise.all([import("../locks/lockService"), import("../engine/engine")]);
  const engine = new Engine({
    prisma: env.prisma,
    pool: env.db.pool,
    lazyPool: env.lazyDb.pool,
    redis: env.redis,
    shards: env.shards,
    options: { leaseMs: 1_000, heartbeatMs: 200, namespace: env.namespace },
  });
  await engine.start();
  foreignEngine = engine;
  setRuntime({
    ...getRuntime(),
    engine: engine as unknown as NonNullable<ReturnType<typeof getRuntime>["engine"]>,
    locks: new LockService({ redis: env.redis, host: "route-probe" }) as unknown as NonNullable<
      ReturnType<typeof getRuntime>["locks"]
    >,
  });
});
afterAll(async () => {
  await foreignEngine?.stop({ drainMs: 1_000 });
  await ring?.stop();
  setRingService(null);
  await env?.cleanup();
});

async function sessionAs(role: Role): Promise<TestSession> {
  const base = roleUsers.get(role)!;
  const { createSession } = await import("../auth/sessions");
  const session = await createSession(env.prisma, base.user.id);
  return { ...base, cookie: `cohort_session=${session.token}`, csrfToken: session.csrfToken };
}

interface Probe {
  label: string;
  options: Omit<CallOptions, "path"> & { path?: string };
  /** Exact status when the probe has one answer; otherwise any 4xx passes. */
  status?: number;
}

const WRONG_VALUES: unknown[] = [
  12345,
  -1,
  1.5,
  true,
  null,
  {},
  [],
  "",
  " ",
  "x".repeat(5000),
  { $ne: null },
  "\u0000",
  "😀".repeat(10),
  "\ud800",
  "stuck \udc00 for hours",
  "a\u0000b",
  "a".repeat(600),
];
const BAD_IDS = [
  "not-a-uuid",
  randomUUID(),
  "00000000-0000-0000-0000-000000000000",
  "../../etc/passwd",
  "%00",
  "x".repeat(2000),
  "",
  "1; DROP TABLE users",
  // As a segment arrives when Next.js does not decode it, and what decoding could give.
  "%FF",
  "%ED%A0%80",
  "\ud800",
  "a\udc00b",
  "\u0000x",
  "k".repeat(600),
];
const JUNK_QUERY = [
  "abc",
  "-1",
  "0",
  "1e9",
  "99999999999999999999",
  "9223372036854775808",
  "",
  "%",
  "[]",
  "null",
  "😀",
  "\ud800",
  "\u0000",
  "q".repeat(600),
];
/** Sent as is in the query string: invalid percent-encoding, an encoded surrogate, an encoded NUL. */
const RAW_QUERY = ["%FF", "%ED%A0%80", "%00", "%C0%AF", "%"];

function probesFor(route: RouteUnderTest): Probe[] {
  const probes: Probe[] = [];
  const mutation = route.method !== "GET";
  const validBody = route.body?.(seed);
  const params = route.params?.(seed) ?? {};
  const base = { method: route.method, params, ...(validBody ? { body: validBody } : {}) };
  if (route.role !== "public") {
    probes.push({ label: "no session", options: { ...base, session: null }, status: 401 });
    probes.push({
      label: "unknown session cookie",
      options: { ...base, session: null, headers: { cookie: `cohort_session=${"A".repeat(43)}` } },
      status: 401,
    });
    if (route.role !== "viewer")
      probes.push({ label: "viewer session", options: { ...base, session: "viewer" as never }, status: 403 });
  }
  if (mutation) {
    probes.push({ label: "no Origin", options: { ...base, headers: { origin: null } }, status: 403 });
    probes.push({ label: "foreign Origin", options: { ...base, headers: { origin: "http://evil.test" } }, status: 403 });
    probes.push({ label: "Origin null", options: { ...base, headers: { origin: "null" } }, status: 403 });
    if (route.role !== "public") {
      probes.push({ label: "no CSRF token", options: { ...base, headers: { "x-csrf-token": null } }, status: 403 });
      probes.push({ label: "wrong CSRF token", options: { ...base, headers: { "x-csrf-token": "forged" } }, status: 403 });
    }
  }
  if (validBody) {
    const raw = (label: string, body: string, headers: Record<string, string | null> = {}, status?: number) =>
      probes.push({ label, options: { ...base, body, headers }, ...(status ? { status } : {}) });
    raw("broken JSON", "{", {}, 400);
    raw("JSON with a trailing comma", '{"a":1,}', {}, 400);
    raw("not JSON at all", "name=admin&password=x", {}, 400);
    raw("form content type", JSON.stringify(validBody), { "content-type": "application/x-www-form-urlencoded" }, 415);
    raw("text content type", JSON.stringify(validBody), { "content-type": "text/plain" }, 415);
    raw("no content type", JSON.stringify(validBody), { "content-type": null }, 415);
    raw("huge body", JSON.stringify({ ...validBody, pad: "x".repeat(200 * 1024) }), {}, 413);
    raw("huge declared length", JSON.stringify(validBody), { "content-length": String(10 * 1024 * 1024) }, 413);
    raw("empty body", "", {}, 400);
    raw("invalid UTF-8", '"\udc00"');
    for (const whole of [null, [], "string", 42, true, [validBody]]) {
      probes.push({ label: `body ${JSON.stringify(whole)}`, options: { ...base, body: JSON.stringify(whole) }, status: 400 });
    }
    probes.push({ label: "deeply nested body", options: { ...base, body: "[".repeat(1500) + "]".repeat(1500) }, status: 400 });
    for (const key of Object.keys(validBody)) {
      const { [key]: _dropped, ...without } = validBody;
      probes.push({ label: `missing ${key}`, options: { ...base, body: without } });
      for (const value of WRONG_VALUES) {
        probes.push({
          label: `${key} = ${JSON.stringify(value).slice(0, 30)}`,
          options: { ...base, body: { ...validBody, [key]: value } },
        });
      }
    }
    for (const [key, values] of Object.entries(route.edgeBody ?? {})) {
      for (const value of values) {
        probes.push({
          label: `${key} = ${JSON.stringify(value).slice(0, 40)}`,
          options: { ...base, body: { ...validBody, [key]: value } },
        });
      }
    }
    probes.push({
      label: "__proto__ key",
      options: { ...base, body: `{"__proto__":{"role":"admin"},"constructor":{"prototype":{}}}` },
      status: 400,
    });
  }
  for (const name of Object.keys(params)) {
    for (const id of BAD_IDS) {
      probes.push({ label: `${name} = ${id.slice(0, 30)}`, options: { ...base, params: { ...params, [name]: id } } });
    }
    probes.push({ label: `${name} as an array`, options: { ...base, params: { ...params, [name]: ["a", "b"] as never } } });
  }
  for (const [name, values] of Object.entries(route.edgeParams ?? {})) {
    for (const value of values) {
      probes.push({ label: `${name} = ${value.slice(0, 30)}`, options: { ...base, params: { ...params, [name]: value } } });
    }
  }
  const withQuery = (entries: [string, string][]) => {
    const url = new URL(route.path(seed), TEST_ORIGIN);
    for (const [key] of entries) url.searchParams.delete(key);
    for (const [key, value] of entries) url.searchParams.append(key, value);
    return `${url.pathname}${url.search}`;
  };
  for (const key of route.query ?? []) {
    for (const value of JUNK_QUERY) {
      probes.push({ label: `?${key}=${value.slice(0, 20)}`, options: { ...base, path: withQuery([[key, value]]) } });
    }
    for (const raw of RAW_QUERY) {
      const path = route.path(seed);
      probes.push({
        label: `?${key}=${raw} (raw)`,
        options: { ...base, path: `${path}${path.includes("?") ? "&" : "?"}${key}=${raw}` },
      });
    }
    probes.push({
      label: `?${key} repeated`,
      options: {
        ...base,
        path: withQuery([
          [key, "a"],
          [key, "b"],
        ]),
      },
    });
  }
  for (const [key, values] of Object.entries(route.edgeQuery ?? {})) {
    for (const value of values) {
      probes.push({ label: `?${key}=${value.slice(0, 40)}`, options: { ...base, path: withQuery([[key, value]]) } });
    }
  }
  if (route.query) {
    probes.push({
      label: "?__proto__",
      options: {
        ...base,
        path: withQuery([
          ["__proto__", "x"],
          ["constructor", "y"],
        ]),
      },
    });
    probes.push({
      label: "unknown query keys",
      options: {
        ...base,
        path: withQuery([
          ["nope", "1"],
          ["k".repeat(500), "v"],
        ]),
      },
    });
  }
  return probes;
}

describe("malformed input never causes a 5xx", () => {
  for (const route of ROUTES) {
    it(`${route.method} ${route.path({ target: { id: "[id]" } as UserSummary, stream: "[stream]" })}`, async () => {
      await route.prepare?.(seed);
      const failures: string[] = [];
      for (const probe of probesFor(route)) {
        const { session: sessionChoice, ...options } = probe.options;
        // Probes say "no session" with null, and name a role with a string; otherwise the route's own role.
        const role =
          (sessionChoice as unknown as Role | null | undefined) ??
          (sessionChoice === null ? null : route.role === "public" ? null : route.role);
        const session = role ? await sessionAs(role) : null;
        const response = await callRoute(route.handler, {
          path: route.path(seed),
          ...options,
          session,
          // Each login probe counts as its own client, so the rate limit does not answer for the validation.
          headers: { [CLIENT_ADDRESS_HEADER]: `probe-${randomBytes(4).toString("hex")}`, ...options.headers },
        });
        const text = await response.text();
        const where = `${probe.label}: ${response.status} ${text.slice(0, 200)}`;
        if (response.status >= 500) failures.push(where);
        else if (probe.status !== undefined && response.status !== probe.status)
          failures.push(`${where} (expected ${probe.status})`);
        else if (response.status >= 400) {
          if (response.headers.get("content-type") !== PROBLEM_CONTENT_TYPE) failures.push(`${where} (not problem+json)`);
          const problem = JSON.parse(text) as { status?: number; code?: string; title?: string };
          if (problem.status !== response.status || !problem.code || !problem.title)
            failures.push(`${where} (incomplete problem)`);
        }
      }
      expect(failures).toEqual([]);
    });
  }
});

describe("bad input gets a message that names the rule", () => {
  it.each([
    ["/api/audit?outcome=ok&outcome=refused", auditRoute.GET, "outcome", "is given more than once: give it once"],
    ["/api/audit?limit=abc", auditRoute.GET, "limit", "must be a number"],
    ["/api/transactions?limit=0", txListRoute.GET, "limit", "must be at least 1"],
    ["/api/transactions?limit=1.5", txListRoute.GET, "limit", "must be a whole number"],
    ["/api/transactions?olderThan=soon", txListRoute.GET, "olderThan", "must be a number of seconds"],
    ["/api/locks?limit=100000", locksRoute.GET, "limit", "must be at most 500"],
    ["/api/in-doubt?olderThanSeconds=-5", inDoubtRoute.GET, "olderThanSeconds", "must be at least 0"],
  ] as const)("GET %s", async (path, handler, field, detail) => {
    const response = await callRoute(handler, { path, session: await sessionAs("viewer") });
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ code: "BAD_REQUEST", errors: [{ in: "query", field, detail }] });
  });
});

describe("refusals in the audit trail", () => {
  const trailOf = (userName: string) => env.prisma.auditEntry.findMany({ where: { userName }, orderBy: { id: "asc" } });

  it("audits a mutation refused for the role, once, with the user, the route and the reason given; not a read", async () => {
    const viewer = await createTestSession(env, "viewer");
    const entry = { stream: seed.stream, group: PHASE2_GROUP, id: "1-0", reason: "  a viewer tries\u0000 " };
    const tried = await callRoute(queueRetryRoute.POST, {
      method: "POST",
      path: "/api/queues/retry",
      session: viewer,
      body: entry,
    });
    expect(tried.status).toBe(403);
    const broken = await callRoute(queueRetryRoute.POST, {
      method: "POST",
      path: "/api/queues/retry",
      session: viewer,
      body: "{",
    });
    expect(broken.status).toBe(403);
    const operator = await createTestSession(env, "operator");
    const promote = await callRoute(userRoute.PATCH, {
      method: "PATCH",
      path: `/api/users/${operator.user.id}`,
      params: { id: operator.user.id },
      session: operator,
      body: { role: "admin", reason: "promote myself" },
    });
    expect(promote.status).toBe(403);
    expect((await callRoute(usersRoute.GET, { path: "/api/users", session: operator })).status).toBe(403);

    const pick = (e: {
      action: string;
      targetType: string;
      targetId: string;
      outcome: string;
      reason: string | null;
      userId: string | null;
    }) => [e.action, e.targetType, e.targetId, e.outcome, e.reason, e.userId];
    const viewerTrail = await trailOf(viewer.user.name);
    expect(viewerTrail.map(pick)).toEqual([
      ["api.forbidden", "route", "POST /api/queues/retry", "refused", "a viewer tries", viewer.user.id],
      ["api.forbidden", "route", "POST /api/queues/retry", "refused", null, viewer.user.id],
    ]);
    expect(viewerTrail[0]!.message).toBe("this needs the operator role (you are viewer)");
    // The read refused for the role is not an action, so only the PATCH is there.
    expect((await trailOf(operator.user.name)).map(pick)).toEqual([
      ["api.forbidden", "route", `PATCH /api/users/${operator.user.id}`, "refused", "promote myself", operator.user.id],
    ]);
  });

  it("audits a reconciliation refused for an unknown shard or a console without an engine", async () => {
    const operator = await createTestSession(env, "operator");
    const reconcile = (name: string, reason: string) =>
      callRoute(reconcileRoute.POST, {
        method: "POST",
        path: `/api/shards/${name}/reconcile`,
        params: { name },
        session: operator,
        body: { reason },
      });
    const unknown = await reconcile("shard-z", "wrong shard");
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ detail: 'no shard named "shard-z" (this console knows shard-a)' });
    // A console process without an engine (the probes above run with one).
    const withEngine = getRuntime();
    setRuntime({ ...withEngine, engine: null });
    try {
      const noEngine = await reconcile("shard-a", "resolve the orphans");
      expect(noEngine.status).toBe(409);
    } finally {
      setRuntime(withEngine);
    }
    const trail = await trailOf(operator.user.name);
    expect(trail.map((e) => [e.action, e.targetType, e.targetId, e.outcome, e.reason])).toEqual([
      ["reconcile", "shard", "shard-z", "refused", "wrong shard"],
      ["reconcile", "shard", "shard-a", "refused", "resolve the orphans"],
    ]);
  });
});

describe("auth, users and audit routes", () => {
  const login = (name: string, password: string, address = `flow-${randomBytes(4).toString("hex")}`) =>
    callRoute(loginRoute.POST, {
      method: "POST",
      path: "/api/auth/login",
      body: { name, password },
      headers: { [CLIENT_ADDRESS_HEADER]: address },
    });

  it("signs in with a cookie that works for /me, and signs out on the server", async () => {
    const user = await createTestSession(env, "operator");
    const failed = await login(user.user.name, "wrong password");
    expect(failed.status).toBe(401);
    expect(await json(failed)).toMatchObject({ code: "UNAUTHENTICATED", detail: "wrong user name or password" });
    expect(failed.headers.get("set-cookie")).toBeNull();

    const response = await login(user.user.name.toUpperCase(), user.password);
    expect(response.status).toBe(200);
    const cookie = response.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^cohort_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const body = await json<{ user: { name: string; role: string }; csrfToken: string }>(response);
    expect(body.user).toMatchObject({ name: user.user.name, role: "operator" });
    expect(JSON.stringify(body)).not.toMatch(/scrypt|passwordHash/);

    const session: TestSession = { ...user, cookie: cookie.split(";")[0]!, csrfToken: body.csrfToken };
    const me = await callRoute(meRoute.GET, { path: "/api/auth/me", session });
    expect(await json(me)).toMatchObject({ user: { name: user.user.name }, csrfToken: body.csrfToken });

    const logout = await callRoute(logoutRoute.POST, { method: "POST", path: "/api/auth/logout", session });
    expect(logout.status).toBe(200);
    expect(logout.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await callRoute(meRoute.GET, { path: "/api/auth/me", session })).status).toBe(401);
  });

  it("sets a Secure cookie when the console is reached over https", async () => {
    const user = await createTestSession(env, "viewer");
    const response = await callRoute(loginRoute.POST, {
      method: "POST",
      path: "/api/auth/login",
      body: { name: user.user.name, password: user.password },
      headers: { "x-forwarded-proto": "https", [CLIENT_ADDRESS_HEADER]: "secure-test" },
    });
    expect(response.headers.get("set-cookie")).toMatch(/; Secure$/);
  });

  it("answers 429 with Retry-After once a name has had 5 failures", async () => {
    const user = await createTestSession(env, "viewer");
    for (let i = 0; i < 5; i++) expect((await login(user.user.name, "wrong password")).status).toBe(401);
    const limited = await login(user.user.name, user.password);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await json(limited)).toMatchObject({
      code: "RATE_LIMITED",
      detail: expect.stringMatching(/too many failed sign-in attempts/),
    });
  });

  it("lets an admin create a user and change its role, audited with reasons; the new user can sign in", async () => {
    const admin = await sessionAs("admin");
    const name = `new-${randomBytes(3).toString("hex")}`;
    const created = await callRoute(usersRoute.POST, {
      method: "POST",
      path: "/api/users",
      session: admin,
      body: { name: name.toUpperCase(), role: "viewer", reason: "joins the on-call rota" },
    });
    expect(created.status).toBe(201);
    const { user, password } = await json<{ user: UserSummary; password: string }>(created);
    expect(user).toMatchObject({ name, role: "viewer", disabled: false, createdBy: admin.user.name });
    expect((await login(name, password)).status).toBe(200);

    const again = await callRoute(usersRoute.POST, {
      method: "POST",
      path: "/api/users",
      session: admin,
      body: { name, role: "viewer", reason: "again" },
    });
    expect(again.status).toBe(409);

    const noReason = await callRoute(userRoute.PATCH, {
      method: "PATCH",
      path: `/api/users/${user.id}`,
      params: { id: user.id },
      session: admin,
      body: { role: "operator", reason: " " },
    });
    expect(noReason.status).toBe(400);
    expect(await json(noReason)).toMatchObject({ errors: [{ in: "body", field: "reason", detail: "a reason is required" }] });

    const promoted = await callRoute(userRoute.PATCH, {
      method: "PATCH",
      path: `/api/users/${user.id}`,
      params: { id: user.id },
      session: admin,
      body: { role: "operator", reason: "covers the night shift" },
    });
    expect(promoted.status).toBe(200);
    expect((await json<{ user: UserSummary }>(promoted)).user.role).toBe("operator");

    const disabled = await callRoute(userRoute.PATCH, {
      method: "PATCH",
      path: `/api/users/${user.id}`,
      params: { id: user.id },
      session: admin,
      body: { disabled: true, reason: "left the team" },
    });
    expect((await json<{ user: UserSummary }>(disabled)).user.disabled).toBe(true);
    expect((await login(name, password)).status).toBe(401);

    const viewer = await sessionAs("viewer");
    const trail = await callRoute(auditRoute.GET, { path: `/api/audit?targetId=${name}`, session: viewer });
    const page = await json<{
      entries: { action: string; reason: string; before: unknown; after: unknown; outcome: string; userName: string }[];
    }>(trail);
    expect(page.entries.map((e) => [e.action, e.outcome, e.reason])).toEqual([
      ["user.disable", "ok", "left the team"],
      ["user.role", "ok", "covers the night shift"],
      ["user.create", "refused", "again"],
      ["user.create", "ok", "joins the on-call rota"],
    ]);
    expect(page.entries[1]).toMatchObject({ before: { role: "viewer" }, after: { role: "operator" }, userName: admin.user.name });
  });

  it("refuses an admin demoting or disabling themself, and audits the refusal", async () => {
    const admin = await sessionAs("admin");
    for (const body of [{ role: "viewer" }, { disabled: true }]) {
      const response = await callRoute(userRoute.PATCH, {
        method: "PATCH",
        path: `/api/users/${admin.user.id}`,
        params: { id: admin.user.id },
        session: admin,
        body: { ...body, reason: "testing the guard" },
      });
      expect(response.status).toBe(409);
      expect(await json(response)).toMatchObject({
        code: "CONFLICT",
        detail: expect.stringMatching(/cannot (demote|disable) yourself/),
      });
    }
    const trail = await callRoute(auditRoute.GET, {
      path: `/api/audit?targetId=${admin.user.name}&outcome=refused`,
      session: admin,
    });
    expect((await json<{ entries: unknown[] }>(trail)).entries).toHaveLength(2);
    // Still an admin.
    expect((await callRoute(usersRoute.GET, { path: "/api/users", session: admin })).status).toBe(200);
  });

  it("keeps users to admins and the audit trail to signed-in users", async () => {
    expect((await callRoute(usersRoute.GET, { path: "/api/users", session: await sessionAs("operator") })).status).toBe(403);
    expect((await callRoute(auditRoute.GET, { path: "/api/audit", session: await sessionAs("viewer") })).status).toBe(200);
    expect((await callRoute(auditRoute.GET, { path: "/api/audit", session: null })).status).toBe(401);
    const listed = await json<{ users: UserSummary[] }>(
      await callRoute(usersRoute.GET, { path: "/api/users", session: await sessionAs("admin") }),
    );
    expect(listed.users.length).toBeGreaterThan(3);
    expect(JSON.stringify(listed)).not.toMatch(/scrypt|passwordHash|password_hash/);
  });

  it("takes the Origin from the Host header", async () => {
    const admin = await sessionAs("admin");
    const call = (origin: string, host: string) =>
      callRoute(usersRoute.POST, {
        method: "POST",
        path: "/api/users",
        session: admin,
        headers: { origin, host },
        body: { name: `host-${randomBytes(3).toString("hex")}`, role: "viewer", reason: "origin check" },
      });
    expect((await call("http://localhost:3100", "localhost:3100")).status).toBe(201);
    expect((await call(TEST_ORIGIN, "localhost:3100")).status).toBe(403);
  });
});
