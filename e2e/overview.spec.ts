// The demo workload commits transactions continuously; the Overview must chart them and
// keep its figures moving over the socket, without a reload.
import { expect, test } from "@playwright/test";
import { screenshotPath, signIn } from "./support/auth";

test("overview charts throughput and latency and stays live", async ({ page }, testInfo) => {
  await signIn(page, "viewer");
  await page.goto("/");
  const documents: string[] = [];
  page.on("request", (request) => {
    if (request.resourceType() === "document") documents.push(request.url());
  });
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByTestId("overview").getByTestId("connection-badge")).toHaveAttribute("data-state", "live");

  await expect(page.getByTestId("stat-in-flight-value")).toHaveText(/^\d[\d,]*$/);
  await expect(page.getByTestId("stat-in-doubt-value")).toHaveText(/^\d[\d,]*$/);
  await expect(page.getByTestId("stat-in-doubt")).toHaveAttribute("href", "/in-doubt");

  // Charts are SVG drawn by the chart library, not tables of numbers. A complete 10 s
  // bucket with commits exists within seconds of the workload running.
  for (const chart of ["throughput-chart", "latency-chart"]) {
    await expect(page.getByTestId(chart).locator(".recharts-wrapper > svg.recharts-surface")).toBeVisible();
  }
  const commitArea = page.getByTestId("throughput-chart").locator(".recharts-area-area path, path.recharts-area-area").first();
  await expect(commitArea).toHaveAttribute("d", /\d/, { timeout: 20_000 });
  await expect(page.getByTestId("latency-chart").locator("path.recharts-line-curve").first()).toHaveAttribute("d", /\d/);
  await expect(page.getByTestId("stat-commits-value")).not.toHaveText(/^(0|–)$/, { timeout: 20_000 });
  await expect(page.getByTestId("stat-latency-value")).toHaveText(/\d+(\.\d)? (ms|s)/);

  const shards = page.getByTestId("shard-row");
  await expect(shards.first()).toBeVisible();
  expect(await shards.count()).toBeGreaterThanOrEqual(1);
  await expect(page.getByTestId("section-tile").filter({ hasText: "Transactions" })).toHaveAttribute("href", "/transactions");

  // A marker on window survives only if the page is never reloaded; the figures' time moves.
  await page.evaluate(() => ((window as unknown as { __cohortMarker: number }).__cohortMarker = 1));
  const before = await page.getByTestId("overview").getAttribute("data-at");
  await expect.poll(() => page.getByTestId("overview").getAttribute("data-at"), { timeout: 15_000 }).not.toBe(before);
  expect(await page.evaluate(() => (window as unknown as { __cohortMarker?: number }).__cohortMarker)).toBe(1);
  expect(documents).toHaveLength(0);

  await page.screenshot({ path: screenshotPath(testInfo, "overview"), fullPage: true });
});
