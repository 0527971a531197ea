// The API's edge under bad input and outages (issue 10), through the real api() wrapper:
//  - errors thrown by runtime objects built outside the Next.js bundle (another copy of the
//    CohortError class) are still answered with their 4xx;
//  - lone surrogates are refused like NUL, and an audit entry can never be lost to its text;
//  - a coordinator database or Redis that cannot be reached is answered 503 with its name.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as loginRoute from "@/app/api/auth/login/route";
import * as lockRoute from "@/app/api/locks/[key]/route";
import * as lockReleaseRoute from "@/app/api/locks/release/route";
import * as locksRoute from "@/app/api/locks/route";
import * as queuesRoute from "@/app/api/queues/route";
import * as txActionRoute from "@/app/api/transactions/[id]/actions/[action]/route";
import * as txListRoute from "@/app/api/transactions/route";
import { recordAudit } from "../audit/audit";
import { connectDatabase } from "../db/prisma";
import { startLocalRedis } from "../infra/localRedis";
import { encodeLockKey } from "../locks/lockKeyInUrl";
import type { LockService } from "../locks/lockService";
import { getRuntime, setRuntime, type Runtime } from "../runtime";
import { callRoute, createTestSession, json, useTestRuntime, type TestSession } from "../testing/apiTestKit";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { PROBLEM_CONTENT_TYPE } from "./problem";

let env: TestEnv;
let viewer: TestSession;
let operator: TestSession;
/** A lock service whose module graph (and so CohortError class) is not this file's. */
let foreignLocks: LockService;

beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 2 });
  useTestRuntime(env);
  viewer = await createTestSession(env, "viewer");
  operator = await createTestSession(env, "operator");
  vi.resetModules();
  const foreign = await import("../locks/lockService");
  foreignLocks = new foreign.LockService({ redis: env.redis, namespace: env.namespace, host: "edge-test" });
});
afterAll(async () => {
  await env?.cleanup();
});

function withRuntime(patch: Partial<Runtime>): () => void {
  const before = getRuntime();
  setRuntime({ ...before, ...patch });
  return () => setRuntime(before);
}

async function expectProblem(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
  const body = await json(response);
  expect({ status: response.status, body }).toMatchObject({ status });
  return body;
}

describe("errors thrown by runtime objects built outside the bundle", () => {
  it("answer their own 4xx, not 500", async () => {
    const restore = withRuntime({ locks: foreignLocks });
    try {
      const probes = [
        { path: "/api/locks?cursor=abc", handler: locksRoute.GET, params: {} },
        ...["a\u0000b", "k".repeat(600)].map((key) => ({
          path: `/api/locks/${encodeLockKey(key)}`,
          handler: lockRoute.GET,
          params: { key: encodeLockKey(key) },
        })),
      ];
      for (const probe of probes) {
        const response = await callRoute(probe.handler, { path: probe.path, params: probe.params, session: viewer });
        const body = await expectProblem(response, 400);
        expect(body.code).toBe("BAD_REQUEST");
      }
    } finally {
      restore();
    }
  });
});

describe("lone surrogates are refused at the edge", () => {
  it("in a login name", async () => {
    const response = await callRoute(loginRoute.POST, {
      method: "POST",
      path: "/api/auth/login",
      body: { name: "ad\ud800min", password: "whatever" },
    });
    const body = await expectProblem(response, 400);
    expect(body.errors).toEqual([{ in: "body", field: "name", detail: expect.stringMatching(/surrogate/) as unknown }]);
  });

  it("in a force-abort reason", async () => {
    const id = randomUUID();
    const response = await callRoute(txActionRoute.POST, {
      method: "POST",
      path: `/api/transactions/${id}/actions/force-abort`,
      params: { id, action: "force-abort" },
      session: operator,
      body: { reason: "stuck \udc00 for hours" },
    });
    const body = await expectProblem(response, 400);
    expect(body.errors).toMatchObject([{ in: "body", field: "reason" }]);
  });

  it("in a lock release reason: nothing is released", async () => {
    const restore = withRuntime({ locks: foreignLocks });
    const key = `edge:${randomUUID()}`;
    try {
      const grant = await foreignLocks.acquire({ key, owner: randomUUID(), ttlMs: 60_000, waitMs: 0 });
      const response = await callRoute(lockReleaseRoute.POST, {
        method: "POST",
        path: "/api/locks/release",
        session: operator,
        body: { key, expectedToken: String(grant.token), reason: "stuck \ud800" },
      });
      await expectProblem(response, 400);
      const state = await foreignLocks.inspect(key);
      expect(state.holders.map((h) => h.token)).toEqual([String(grant.token)]);
    } finally {
      restore();
    }
  });

  it("in a query value or a param, with or without a schema", async () => {
    // A pair is fine; a URL cannot carry a lone surrogate (it decodes to U+FFFD), but NUL it can.
    expect((await callRoute(txListRoute.GET, { path: "/api/transactions?label=%F0%9F%98%80", session: viewer })).status).toBe(
      200,
    );
    for (const handler of [locksRoute.GET, queuesRoute.GET]) {
      const nul = await callRoute(handler, { path: "/api/x?x=a%00b", session: viewer });
      expect((await expectProblem(nul, 400)).errors).toMatchObject([{ in: "query", field: "x" }]);
    }
    const refused = await callRoute(txActionRoute.POST, {
      method: "POST",
      path: `/api/transactions/x/actions/force-abort`,
      params: { id: "\ud800", action: "force-abort" },
      session: operator,
      body: { reason: "a good reason" },
    });
    const body = await expectProblem(refused, 400);
    expect(body.errors).toMatchObject([{ in: "params", field: "id", detail: expect.stringMatching(/surrogate/) as unknown }]);
  });
});

describe("the audit trail never loses an entry to its text", () => {
  it("stores an entry whose reason, message and snapshots PostgreSQL could not hold as given", async () => {
    const entry = await recordAudit(env.prisma, {
      user: { id: null, name: "cli\u0000" },
      action: "lock.release",
      targetType: "lock",
      targetId: "edge:\ud800",
      reason: "stuck \ud800 lock\u0000",
      before: { owner: "\udc00", note: "a\u0000b" },
      outcome: "ok",
      message: "released \ud800",
    });
    expect(entry).toMatchObject({
      userName: "cli",
      targetId: "edge:\ufffd",
      reason: "stuck \ufffd lock",
      before: { owner: "\ufffd", note: "ab" },
      message: "released \ufffd",
    });
  });
});

describe("an unreachable source is answered 503 with its name", () => {
  it("the coordinator database at a closed port", async () => {
    const dead = connectDatabase("postgresql://cohort@127.0.0.1:1/none", { poolSize: 1 });
    const restore = withRuntime({ prisma: dead.prisma, pool: dead.pool });
    try {
      const response = await callRoute(txListRoute.GET, { path: "/api/transactions", session: viewer });
      const body = await expectProblem(response, 503);
      expect(body).toMatchObject({ code: "SOURCE_UNAVAILABLE", source: "coordinator database" });
      expect(response.headers.get("retry-after")).toBe("5");
      expect(JSON.stringify(body)).not.toContain("127.0.0.1");
    } finally {
      restore();
      await dead.close();
    }
  });

  it("the coordinator database that terminated its connections and accepts none", async () => {
    const name = new URL(env.databaseUrl).pathname.slice(1);
    const own = connectDatabase(env.databaseUrl, { poolSize: 2 });
    const restore = withRuntime({ prisma: own.prisma, pool: own.pool });
    try {
      // Connections in the pool first, so both kinds of failure are met: dropped and refused.
      expect((await callRoute(txListRoute.GET, { path: "/api/transactions", session: viewer })).status).toBe(200);
      await env.admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await env.admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
      for (let i = 0; i < 3; i++) {
        const response = await callRoute(txListRoute.GET, { path: "/api/transactions", session: viewer });
        const body = await expectProblem(response, 503);
        expect(body).toMatchObject({ code: "SOURCE_UNAVAILABLE", source: "coordinator database" });
      }
    } finally {
      await env.admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      restore();
      await own.close();
      // env's own pools lost their connections too: replace them before other tests run.
      await env.db.pool.query("SELECT 1").catch(() => undefined);
    }
  });

  it("Redis, stopped", async () => {
    const local = await startLocalRedis();
    const redis = new Redis(local.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined);
    const restore = withRuntime({ redis, locks: null });
    try {
      expect((await callRoute(locksRoute.GET, { path: "/api/locks", session: viewer })).status).toBe(200);
      await local.stop();
      const response = await callRoute(locksRoute.GET, { path: "/api/locks", session: viewer });
      const body = await expectProblem(response, 503);
      expect(body).toMatchObject({ code: "SOURCE_UNAVAILABLE", source: "Redis" });
      expect(response.headers.get("retry-after")).toBe("5");
    } finally {
      restore();
      redis.disconnect();
      await local.stop();
    }
  });
});
