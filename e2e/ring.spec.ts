// The Ring page against the running demo (4 shards on the ring, workload running): the
// ring is drawn with its virtual nodes and sample accounts, hovering says range and owner,
// what-if reports the share a join would move (its weight over the new total weight: 1/(n+1)
// for n equal shards), and an admin's rebalance (reweighting shard-a, which moves
// accounts) shows its progress to the end.
import { expect, test, type Page } from "@playwright/test";
import { mutationHeaders, screenshotPath, signIn } from "./support/auth";

interface RingApi {
  version: number;
  members: { name: string; weight: number }[];
  run: { id: string; status: string } | null;
}

async function ringState(page: Page): Promise<RingApi> {
  const response = await page.request.get("/api/ring");
  expect(response.status(), await response.text()).toBe(200);
  return (await response.json()) as RingApi;
}

/** "12.34%" → 0.1234 */
async function shareIn(page: Page, testId: string): Promise<number> {
  const text = await page.getByTestId(testId).innerText();
  const value = Number(text.replace("%", "")) / 100;
  if (!Number.isFinite(value)) throw new Error(`${testId} is not a percentage: "${text}"`);
  return value;
}

test("the Ring page draws the ring, previews a join and shows a rebalance to the end", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  await signIn(page, "admin");

  // The demo's data outlives runs: finish a run an earlier, interrupted run of this spec left.
  let state = await ringState(page);
  if (state.run && state.run.status !== "DONE") {
    if (state.run.status !== "RUNNING") {
      const resumed = await page.request.post(`/api/ring/runs/${state.run.id}/resume`, {
        data: { reason: "e2e: finish an interrupted run" },
        headers: await mutationHeaders(page.request),
      });
      expect(resumed.status(), await resumed.text()).toBe(200);
    }
    await expect.poll(async () => (await ringState(page)).run?.status, { timeout: 60_000 }).toBe("DONE");
    state = await ringState(page);
  }
  // Each run of this spec flips shard-a's weight between 1 and 2, and the demo's data outlives runs.
  const totalWeight = state.members.reduce((sum, m) => sum + m.weight, 0);

  await page.goto("/ring");
  await expect(page.getByRole("heading", { name: "Ring", level: 1 })).toBeVisible();
  await expect(page.getByTestId("ring-version")).toContainText(`Version ${state.version}`);

  // The ring: one point per virtual node (160 per unit of weight), sample accounts on it.
  const points = page.getByTestId("ring-vnode");
  await expect.poll(() => points.count()).toBeGreaterThanOrEqual(160 * totalWeight * 0.95);
  await expect.poll(() => page.getByTestId("ring-sample").count()).toBeGreaterThan(10);
  await points.nth(17).hover({ force: true });
  const tooltip = page.getByTestId("ring-tooltip");
  await expect(tooltip).toContainText(/0x[0-9a-f]{8} – 0x[0-9a-f]{8}/);
  await expect(page.getByTestId("ring-tooltip-owner")).toHaveText(/^shard-[a-z]$/);

  // Shares and imbalance.
  for (const m of state.members) await expect(page.getByTestId(`ring-share-${m.name}`)).toHaveText(/^\d+\.\d%$/);
  await expect(page.getByTestId("ring-imbalance")).toHaveText(/^1\.\d{3}$/);
  await expect(page.getByTestId("key-imbalance")).toHaveText(/^1\.\d{3}$/);

  // What-if: a new shard of weight 1 would take 1/(total+1) of the ring, all of it.
  const whatIf = page.getByTestId("what-if-panel");
  // By name: a label that wraps a select also reads its options, so "Shard" would match two.
  const field = (name: "op" | "shard" | "weight") => whatIf.locator(`[name="${name}"]`);
  await field("op").selectOption("add");
  await field("shard").fill("shard-e");
  await field("weight").fill("1");
  await whatIf.getByRole("button", { name: "Preview" }).click();
  await expect(page.getByTestId("what-if-result")).toContainText("add shard-e (weight 1)");
  const joinShare = 1 / (totalWeight + 1);
  expect(await shareIn(page, "what-if-ideal-share")).toBeCloseTo(joinShare, 4);
  expect(Math.abs((await shareIn(page, "what-if-moved-share")) - joinShare)).toBeLessThan(0.05);
  await expect.poll(() => page.getByTestId("moved-range").count()).toBeGreaterThan(20);
  // shard-e is hypothetical: the engine has no such shard, so it cannot be applied.
  await expect(page.getByTestId("start-rebalance")).toBeDisabled();
  await expect(whatIf).toContainText("shard-e is not a shard the engine knows");
  await page.screenshot({ path: screenshotPath(testInfo, "ring"), fullPage: true });

  // A rebalance that moves accounts: shard-a's weight doubled (or back to 1 on the next run).
  const weight = state.members.find((m) => m.name === "shard-a")!.weight === 1 ? 2 : 1;
  await field("op").selectOption("reweight");
  await field("shard").selectOption("shard-a");
  await field("weight").fill(String(weight));
  await whatIf.getByRole("button", { name: "Preview" }).click();
  await expect(page.getByTestId("what-if-result")).toContainText(`reweight shard-a to ${weight}`);
  expect(await shareIn(page, "what-if-moved-share")).toBeGreaterThan(0.05);
  await page.getByTestId("start-rebalance").click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel(/Reason/).fill("e2e: shard-a has twice the hardware");
  await dialog.getByRole("button", { name: "Start rebalance" }).click();
  await expect(dialog).toHaveCount(0);

  // Progress, live, to the end.
  const status = page.getByTestId("rebalance-status");
  const progress = page.getByTestId("rebalance-progress");
  const seen = new Set<string>();
  const values = new Set<number>();
  await expect
    .poll(
      async () => {
        const s = await status.innerText();
        seen.add(s);
        values.add(Number(await progress.getAttribute("aria-valuenow")));
        return s;
      },
      { timeout: 90_000, intervals: [100] },
    )
    .toBe("done");
  expect(seen).toContain("running");
  await expect(progress).toHaveAttribute("aria-valuenow", "100");
  const counts = await page.getByTestId("rebalance-counts").innerText();
  const [, moved, skipped, total] = /([\d,]+) moved · ([\d,]+) already there · of ([\d,]+)/.exec(counts) ?? [];
  expect(Number(moved!.replaceAll(",", "")) + Number(skipped!.replaceAll(",", ""))).toBe(Number(total!.replaceAll(",", "")));
  expect(Number(total!.replaceAll(",", ""))).toBeGreaterThan(0);
  await expect(page.getByTestId("ring-version")).toContainText(`Version ${state.version + 1}`);
  testInfo.annotations.push({ type: "progress seen", description: [...values].sort((a, b) => a - b).join(", ") });
});

test("what-if explains a change the server refuses, in its own words", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto("/ring");
  const whatIf = page.getByTestId("what-if-panel");
  await whatIf.locator('[name="op"]').selectOption("add");
  await whatIf.locator('[name="shard"]').fill("Shard E");
  await whatIf.getByRole("button", { name: "Preview" }).click();
  const alert = whatIf.getByRole("alert");
  await expect(alert).toContainText("shard: not a shard name (a-z, 0-9, - and _, starting with a letter)");
  await expect(page.getByTestId("what-if-result")).toHaveCount(0);
  // Viewers preview but never get to start anything.
  await expect(page.getByTestId("start-rebalance")).toHaveCount(0);
});
