// Queue figures and the sampled time series, read from a real Redis with known contents.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { collectFigures, listStreams } from "./figures";
import { readSeries, sampleOnce, seriesKey } from "./sampler";
import { ensureGroup, queueKeys } from "./streamQueue";

let redis: Redis;
const ns = `t${randomBytes(4).toString("hex")}`;
const stream = `${ns}:q:phase2`;

beforeAll(() => {
  redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 2 });
});
afterAll(async () => {
  const keys = await redis.keys(`${ns}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe("queue figures", () => {
  it("reports length, lag, pending, idle times, delivery counts, consumers and dead letters", async () => {
    await ensureGroup(redis, stream, "engines");
    await ensureGroup(redis, stream, "auditors");
    for (let i = 0; i < 10; i++) await redis.xadd(stream, "*", "n", String(i));
    const read = (await redis.xreadgroup("GROUP", "engines", "c1", "COUNT", 4, "STREAMS", stream, ">")) as [
      string,
      [string, string[]][],
    ][];
    const ids = read[0]![1].map(([id]) => id);
    await redis.xack(stream, "engines", ids[0]!);
    // Deliver one entry twice more to another consumer.
    await redis.xclaim(stream, "engines", "c2", 0, ids[1]!);
    await redis.xclaim(stream, "engines", "c2", 0, ids[1]!);
    await redis.xadd(queueKeys(stream).dead, "*", "n", "x", "_error", "boom");
    await new Promise((r) => setTimeout(r, 30));

    expect(await listStreams(redis, ns)).toEqual([stream]);
    const [f] = await collectFigures(redis, [stream]);
    expect(f).toMatchObject({ source: "redis", stream, kind: "phase2", length: 10, entriesAdded: 10, deadLetters: 1 });
    const engines = f!.groups.find((g) => g.name === "engines")!;
    expect(engines).toMatchObject({ lag: 6, pending: 3, entriesRead: 4, maxDeliveries: 3 });
    expect(engines.deliveryHistogram).toEqual({ "1": 2, "3": 1 });
    expect(engines.oldestPendingIdleMs).toBeGreaterThanOrEqual(25);
    expect(engines.consumers.map((c) => [c.name, c.pending]).sort()).toEqual([
      ["c1", 2],
      ["c2", 1],
    ]);
    const auditors = f!.groups.find((g) => g.name === "auditors")!;
    expect(auditors).toMatchObject({ lag: 10, pending: 0, oldestPendingIdleMs: null, consumers: [] });
  });

  it("collects a stream that vanished as empty instead of failing", async () => {
    const gone = `${ns}:q:gone`;
    const [f] = await collectFigures(redis, [gone]);
    expect(f).toMatchObject({ stream: gone, length: 0, groups: [], deadLetters: 0 });
  });

  it("samples rates in and out into a bounded series, one sampler per interval", async () => {
    const interval = 60_000;
    const t0 = Math.floor(Date.now() / interval) * interval + 10;
    expect(await sampleOnce(redis, ns, interval, t0)).toBe(true);
    // Another console in the same interval does nothing.
    expect(await sampleOnce(redis, ns, interval, t0 + 5)).toBe(false);
    for (let i = 0; i < 20; i++) await redis.xadd(stream, "*", "n", `more-${i}`);
    const read = (await redis.xreadgroup("GROUP", "engines", "c1", "COUNT", 100, "STREAMS", stream, ">")) as [
      string,
      [string, string[]][],
    ][];
    await redis.xack(stream, "engines", ...read[0]![1].map(([id]) => id));
    expect(await sampleOnce(redis, ns, interval, t0 + interval)).toBe(true);
    const series = await readSeries(redis, stream);
    expect(series).toHaveLength(2);
    expect(series[0]!.at).toBe(t0);
    expect(series[1]!.at).toBe(t0 + interval);
    // 20 entries added over 60 s; "engines" read and acknowledged 26 (6 lagging + 20 new).
    expect(series[1]!.inPerS).toBeCloseTo(20 / 60, 1);
    expect(series[1]!.outPerS).toBeCloseTo(26 / 60, 1);
    expect(series[1]).toMatchObject({ length: 30, pending: 3, deadLetters: 1 });
    expect(await redis.llen(seriesKey(stream))).toBe(2);
  });
});
