// The demo workload commits transactions continuously; the overview must show them
// arriving over the socket, without a reload.
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";

async function committedTotal(page: Page): Promise<number> {
  const text = await page.getByTestId("count-committed-total").innerText();
  const value = Number(text.replaceAll(",", ""));
  if (!Number.isFinite(value)) throw new Error(`committed total is not a number: "${text}"`);
  return value;
}

test("overview shows live transaction counts", async ({ page }, testInfo) => {
  const documents: string[] = [];
  page.on("request", (request) => {
    if (request.resourceType() === "document") documents.push(request.url());
  });

  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();

  for (const state of ["active", "preparing", "committing", "aborting"]) {
    await expect(page.getByTestId(`count-${state}-value`)).toHaveText(/^\d[\d,]*$/);
  }
  await expect(page.getByTestId("count-committed-recent")).toHaveText(/^\d[\d,]*$/);
  await expect(page.getByTestId("count-committed-total")).toHaveText(/^\d[\d,]*$/);
  await expect(page.getByTestId("count-aborted-total")).toHaveText(/^\d[\d,]*$/);

  const badge = page.getByTestId("connection-badge");
  await expect(badge).toHaveText("live");
  await expect(badge).toHaveAttribute("data-state", "live");

  // A marker on window survives only if the page is never reloaded.
  await page.evaluate(() => ((window as unknown as { __cohortMarker: number }).__cohortMarker = 1));
  const before = await committedTotal(page);
  await expect.poll(() => committedTotal(page), { timeout: 15_000, intervals: [250] }).toBeGreaterThan(before);

  expect(await page.evaluate(() => (window as unknown as { __cohortMarker?: number }).__cohortMarker)).toBe(1);
  expect(documents).toHaveLength(1);
  await expect(badge).toHaveText("live");

  await page.screenshot({ path: path.join(testInfo.project.testDir, "screenshots", "overview.png"), fullPage: true });
});
