// Engines of one deployment are started together by orchestrators (a rollout, a campaign):
// nothing in their start-up may make one of them lose a race and die.
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "../testing/testEnv";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ shards: 3, accounts: 10 });
});
afterAll(async () => env?.cleanup());

it("starts several engines at once on a coordinator database that has never seen its shards", async () => {
  expect(await env.prisma.shard.count()).toBe(0);
  const started = await Promise.allSettled(Array.from({ length: 4 }, () => env.engine()));
  expect(started.filter((s) => s.status === "rejected").map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
  expect((await env.prisma.shard.findMany({ select: { name: true } })).map((s) => s.name).sort()).toEqual([
    "shard-a",
    "shard-b",
    "shard-c",
  ]);
});
