// The console's view of its sources, against a real redis-server that is stopped and started
// again and a PostgreSQL pool pointed at a closed port: each outage is seen within a probe or
// two, logged once however long it lasts, and its end is seen too.
import { Redis } from "ioredis";
import pg from "pg";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { startLocalRedis, type LocalRedisHandle } from "../infra/localRedis";
import { logRedisErrors } from "../live/redisErrors";
import { waitFor } from "../testing/waitFor";
import { startSourceHealth, type SourceHealth, type SourceHealthMonitor } from "./sourceHealth";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function ownRedis(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined);
  cleanups.push(() => redis.disconnect());
  return redis;
}

async function localRedis(port?: number): Promise<LocalRedisHandle> {
  const local = await startLocalRedis(port === undefined ? {} : { port });
  cleanups.push(() => local.stop());
  return local;
}

const stateOf = (health: SourceHealth, source: string) => health.sources.find((s) => s.source === source)?.up;

describe("source health", () => {
  it("sees Redis go down and come back, logging each change once", async () => {
    const local = await localRedis();
    const pool = new pg.Pool({ connectionString: inject("pgServerUrl"), max: 1 });
    cleanups.push(() => pool.end());
    const lines: string[] = [];
    const changes: SourceHealth[] = [];
    const monitor: SourceHealthMonitor = startSourceHealth({
      pool,
      redis: ownRedis(local.url),
      log: (line) => lines.push(line),
      onChange: (health) => changes.push(health),
      intervalMs: 100,
    });
    cleanups.push(() => monitor.stop());
    await monitor.probe();
    expect(stateOf(monitor.current(), "Redis")).toBe(true);
    expect(stateOf(monitor.current(), "coordinator database")).toBe(true);

    const port = Number(new URL(local.url).port);
    await local.stop();
    await waitFor(async () => stateOf(monitor.current(), "Redis") === false, 5_000, "Redis seen down");
    expect(changes.at(-1)!.sources.find((s) => s.source === "Redis")).toMatchObject({ up: false });
    // Many probes later, still one line for the outage.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(lines.filter((l) => l.includes("Redis unreachable"))).toHaveLength(1);
    expect(lines.join("\n")).not.toMatch(/redis:\/\//);

    await localRedis(port);
    await waitFor(async () => stateOf(monitor.current(), "Redis") === true, 10_000, "Redis seen up");
    expect(lines.filter((l) => l.includes("Redis reachable again"))).toHaveLength(1);
    expect(stateOf(monitor.current(), "coordinator database")).toBe(true);
  });

  it("sees an unreachable coordinator database", async () => {
    const local = await localRedis();
    const pool = new pg.Pool({ connectionString: "postgresql://cohort@127.0.0.1:1/none", max: 1 });
    pool.on("error", () => undefined);
    cleanups.push(() => pool.end());
    const lines: string[] = [];
    const monitor = startSourceHealth({ pool, redis: ownRedis(local.url), log: (l) => lines.push(l), intervalMs: 100 });
    cleanups.push(() => monitor.stop());
    const health = await monitor.probe();
    expect(stateOf(health, "coordinator database")).toBe(false);
    expect(stateOf(health, "Redis")).toBe(true);
    expect(lines).toEqual([expect.stringMatching(/coordinator database unreachable: .*ECONNREFUSED/) as unknown]);
  });
});

describe("Redis clients the console makes", () => {
  it("log an outage once, never 'Unhandled error event'", async () => {
    const local = await localRedis();
    const client = new Redis(local.url, { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    cleanups.push(() => client.disconnect());
    const lines: string[] = [];
    logRedisErrors(client, "test client", (l) => lines.push(l));
    const unhandled = vi.spyOn(console, "error").mockImplementation(() => undefined);
    cleanups.push(() => unhandled.mockRestore());
    await client.ping();
    await local.stop();
    // About 50 reconnect attempts.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/test client: connection lost/);
    expect(unhandled.mock.calls.flat().join(" ")).not.toMatch(/Unhandled error event/);
  });
});
