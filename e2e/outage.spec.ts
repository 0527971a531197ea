// The console under a Redis outage (issue 10): with the demo's redis-server frozen (SIGSTOP,
// so it neither answers nor refuses, the harder case), every page shows a banner naming
// Redis and the live badge stops saying "live"; both recover when Redis does. Also: a path
// segment that is not valid percent-encoding is answered 400, for the API and for pages.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { Redis } from "ioredis";
import { screenshotPath, signIn } from "./support/auth";

async function demoRedisPid(testDir: string): Promise<number> {
  const runtime = JSON.parse(await readFile(path.join(testDir, "..", ".cohort", "e2e", "runtime.json"), "utf8")) as {
    redisUrl: string;
  };
  const redis = new Redis(runtime.redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const info = await redis.info("server");
    return Number(/process_id:(\d+)/.exec(info)?.[1]);
  } finally {
    redis.disconnect();
  }
}

test("a frozen Redis is named in a banner on every page, the badge is not live, and both recover", async ({ page }, testInfo) => {
  test.setTimeout(90_000);
  await signIn(page, "viewer");
  await page.goto("/queues");
  const badge = page.getByRole("banner").getByTestId("connection-badge");
  await expect(badge).toHaveText("live");
  await expect(page.getByTestId("source-banner")).toHaveCount(0);

  const pid = await demoRedisPid(testInfo.project.testDir);
  expect(pid).toBeGreaterThan(0);
  process.kill(pid, "SIGSTOP");
  try {
    const down = page.getByTestId("source-down");
    await expect(down).toHaveAttribute("data-source", "Redis");
    await expect(down).toContainText(/Redis unreachable since \d/);
    await expect(badge).toHaveAttribute("data-state", "stalled");
    await expect(badge).toHaveText("not live");
    await page.screenshot({ path: screenshotPath(testInfo, "outage-redis-queues"), fullPage: true });

    // Another page, reached in the browser: the banner is in the shell.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Transactions" }).click();
    await expect(page.getByTestId("source-down")).toHaveAttribute("data-source", "Redis");
    await expect(page.getByRole("banner").getByTestId("connection-badge")).toHaveText("not live");

    // The API says the same to a program.
    const sources = await page.request.get("/api/sources");
    expect(sources.status()).toBe(200);
    expect(await sources.json()).toMatchObject({
      sources: expect.arrayContaining([{ source: "Redis", up: false, since: expect.any(String) }]) as unknown,
    });
  } finally {
    process.kill(pid, "SIGCONT");
  }
  await expect(page.getByTestId("source-banner")).toHaveCount(0, { timeout: 20_000 });
  await expect(page.getByRole("banner").getByTestId("connection-badge")).toHaveText("live");
});

test("an invalid percent-encoding in a path segment is a 400, for the API and for pages", async ({ page }) => {
  await signIn(page, "viewer");
  for (const segment of ["%FF", "%ED%A0%80"]) {
    const api = await page.request.get(`/api/transactions/${segment}`);
    expect(api.status()).toBe(400);
    expect(api.headers()["content-type"]).toBe("application/problem+json");
    expect(await api.json()).toMatchObject({ status: 400, code: "BAD_REQUEST" });

    const response = await page.goto(`/transactions/${segment}`);
    expect(response?.status()).toBe(400);
    await expect(page.getByRole("heading", { name: "This address is not valid" })).toBeVisible();
  }
});
