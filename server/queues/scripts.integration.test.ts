// The queue scripts on an auto-pipelining client (the engine's and the console's): ioredis
// builds an auto-pipeline with the commands the client had when it started, so a script
// defined while one is pending used to land in a pipeline without it and crash the process
// ("results[i] is not iterable", ioredis#1931) the first time an operator acted on a queue.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { queueScripts } from "./scripts";

const ns = `t${randomBytes(4).toString("hex")}`;
const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

describe("queue scripts", () => {
  it("work when first used while an auto-pipeline is pending", async () => {
    const redis = new Redis(inject("redisUrl"), { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
    clients.push(redis);
    await redis.ping();
    const pending = redis.get(`${ns}:anything`);
    const purged = queueScripts(redis).purge([`${ns}:q:none:dead`], ["0", ""]);
    expect(await Promise.all([pending, purged])).toEqual([null, [1, 0]]);
    // Later calls too, alongside auto-pipelined commands.
    const again = await Promise.all([redis.get(`${ns}:other`), queueScripts(redis).purge([`${ns}:q:none:dead`], ["0", ""])]);
    expect(again).toEqual([null, [1, 0]]);
  });
});
