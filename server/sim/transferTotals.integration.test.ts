// The demo's outbox consumer stops in bounded time with Redis dead (issue 10: Ctrl-C hung
// over 100 s at "stopping outbox consumer…"), and loses nothing by it: what it had not
// applied stays pending.
import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalRedis, type LocalRedisHandle } from "../infra/localRedis";
import { outboxStream } from "../queues/outboxRelay";
import { waitFor } from "../testing/waitFor";
import { readTransferTotals, startTransferTotals, TRANSFER_COMPLETED } from "./transferTotals";

let local: LocalRedisHandle | null = null;
let redis: Redis | null = null;
afterEach(async () => {
  redis?.disconnect();
  await local?.stop();
  local = redis = null;
});

describe("the transfer totals consumer", () => {
  it("stops within a few seconds while Redis is dead", async () => {
    local = await startLocalRedis();
    // As the engine's shared client: commands retry across reconnects before they fail.
    redis = new Redis(local.url, { enableAutoPipelining: true, maxRetriesPerRequest: 3 });
    redis.on("error", () => undefined);
    const namespace = `t${randomBytes(4).toString("hex")}`;
    const consumer = await startTransferTotals({ redis, namespace, consumer: "c1", log: () => undefined });
    const payload = JSON.stringify({ from: 1, to: 2, amount: 5 });
    for (let i = 0; i < 50; i++) {
      await redis.xadd(outboxStream(namespace), "*", "type", TRANSFER_COMPLETED, "id", randomUUID(), "payload", payload);
    }
    await waitFor(
      async () => (await readTransferTotals(redis!, namespace)).transfers === 50,
      10_000,
      "the 50 transfers to be counted",
    );
    await local.stop();
    // Long enough for the reconnect backoff to grow, as in a real outage.
    await new Promise((r) => setTimeout(r, 3_000));
    const started = Date.now();
    await consumer.stop();
    expect(Date.now() - started).toBeLessThan(3_000);
  }, 60_000);
});
