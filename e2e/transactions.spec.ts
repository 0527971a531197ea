// The transaction list and detail against the running demo: rows arrive live while the
// workload runs (no reload), pausing holds them back behind a "new transactions" bar,
// filters live in the URL, and a transaction's page shows its coordinator-log timeline.
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import pg from "pg";
import { screenshotPath, signIn, type DemoUser } from "./support/auth";

async function openAs(page: Page, user: DemoUser, path: string): Promise<void> {
  await signIn(page, user);
  await page.goto(path);
}

const screenshot = (page: Page, info: TestInfo, name: string) =>
  page.screenshot({ path: screenshotPath(info, name), fullPage: true });

const topRowId = (page: Page) => page.getByTestId("tx-row").first().getAttribute("data-id");

test("the list takes new transactions live, and holds them back while paused", async ({ page }, testInfo) => {
  await openAs(page, "viewer", "/transactions");
  const documents: string[] = [];
  page.on("request", (request) => {
    if (request.resourceType() === "document") documents.push(request.url());
  });
  await expect(page.getByRole("heading", { name: "Transactions", level: 1 })).toBeVisible();
  await expect(page.getByTestId("tx-row").first()).toBeVisible();
  await expect(page.getByTestId("tx-list").getByTestId("connection-badge")).toHaveAttribute("data-state", "live");
  // A marker on window survives only if the page is never reloaded.
  await page.evaluate(() => ((window as unknown as { __cohortMarker: number }).__cohortMarker = 1));

  const first = await topRowId(page);
  await expect.poll(() => topRowId(page), { timeout: 15_000, intervals: [250] }).not.toBe(first);
  const rows = await page.getByTestId("tx-row").count();
  expect(rows).toBeGreaterThan(1);

  // Paused: the top stays put and arrivals are counted instead.
  await page.getByTestId("live-pause").click();
  await expect(page.getByTestId("live-pause")).toHaveAttribute("aria-pressed", "true");
  const held = await topRowId(page);
  const bar = page.getByTestId("new-transactions-bar");
  await expect(bar).toBeVisible({ timeout: 15_000 });
  await expect(bar).toHaveText(/^\d+ new transactions? · show$/);
  expect(await topRowId(page)).toBe(held);
  await screenshot(page, testInfo, "transactions");

  await bar.click();
  await expect.poll(() => topRowId(page), { timeout: 10_000 }).not.toBe(held);
  await page.getByTestId("live-pause").click();
  await expect(page.getByTestId("live-pause")).toHaveAttribute("aria-pressed", "false");

  expect(await page.evaluate(() => (window as unknown as { __cohortMarker?: number }).__cohortMarker)).toBe(1);
  expect(documents).toHaveLength(0);
});

test("filters live in the URL and survive a reload", async ({ page }) => {
  await openAs(page, "viewer", "/transactions");
  await page.getByLabel("State").selectOption("COMMITTED");
  await expect(page).toHaveURL(/[?&]state=committed(&|$)/);
  await page.getByLabel("Shard").selectOption("shard-b");
  await expect(page).toHaveURL(/[?&]shard=shard-b(&|$)/);
  await expect(page.getByTestId("tx-row").first()).toBeVisible();
  for (const status of await page.getByTestId("tx-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-status")))) {
    expect(status).toBe("COMMITTED");
  }
  for (const shards of await page.getByTestId("tx-row").evaluateAll((rows) => rows.map((r) => r.children[3]!.textContent))) {
    expect(shards).toContain("shard-b");
  }

  // An id prefix typed with dashes and capitals, applied with Enter.
  const id = (await page.getByTestId("tx-row").first().getAttribute("data-id"))!;
  await page.getByLabel("Id starts with").fill(id.slice(0, 11).toUpperCase());
  await page.getByLabel("Id starts with").press("Enter");
  await expect(page).toHaveURL(new RegExp(`[?&]id=${id.slice(0, 8)}${id.slice(9, 11)}(&|$)`));
  await expect(page.locator(`[data-testid="tx-row"][data-id="${id}"]`)).toBeVisible();

  await page.reload();
  await expect(page.getByLabel("State")).toHaveValue("COMMITTED");
  await expect(page.getByLabel("Shard")).toHaveValue("shard-b");
  await expect(page.locator(`[data-testid="tx-row"][data-id="${id}"]`)).toBeVisible();

  // A broken shared link says what is wrong instead of failing.
  await page.goto("/transactions?state=finished&olderThan=-1");
  await expect(page.getByTestId("tx-bad-filters")).toContainText("state");
  await expect(page.getByTestId("tx-bad-filters")).toContainText("olderThan");
  const api = await page.request.get("/api/transactions?cursor=bm9wZQ");
  expect(api.status()).toBe(400);
  expect(api.headers()["content-type"]).toContain("application/problem+json");
});

test("a transaction's page shows its timeline and branches; viewers get no actions", async ({ page }, testInfo) => {
  await openAs(page, "viewer", "/transactions?state=committed");
  // The list is live: pin the row by its id, or a transaction arriving meanwhile becomes "first".
  const id = (await page.getByTestId("tx-row").first().getAttribute("data-id"))!;
  await page.locator(`[data-testid="tx-row"][data-id="${id}"]`).getByRole("link").click();
  await page.waitForURL(`**/transactions/${id}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(id);
  await expect(page.getByTestId("tx-status").first()).toHaveText("COMMITTED");

  const records = page.getByTestId("tx-timeline-record");
  await expect(records.first()).toBeVisible();
  const types = await records.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-type")));
  expect(types[0]).toBe("begin");
  expect(types).toContain("prepare");
  expect(types).toContain("decision");
  expect(types.at(-1)).toBe("end");
  await expect(records.filter({ hasText: "decision" }).first()).toContainText(/COMMIT · votes: shard-[a-z] yes/);
  for (const actor of await records.evaluateAll((rows) => rows.map((r) => r.children[3]!.textContent))) {
    expect(actor).toMatch(/\S/);
  }

  const branches = page.getByTestId("tx-branch");
  expect(await branches.count()).toBeGreaterThanOrEqual(1);
  for (const state of await branches.evaluateAll((rows) =>
    rows.map((r) => r.querySelector('[data-testid="tx-status"]')!.textContent),
  )) {
    expect(state).toBe("COMMITTED");
  }
  await expect(page.getByTestId("tx-actions")).toHaveCount(0);
  await screenshot(page, testInfo, "transaction-detail");

  const missing = await page.goto("/transactions/00000000-0000-7000-8000-000000000000");
  expect(missing?.status()).toBe(404);
  await expect(page.getByTestId("tx-not-found")).toBeVisible();
  // Not an id at all: the same readable answer, not a failed database cast.
  const malformed = await page.goto("/transactions/not-a-uuid");
  expect(malformed?.status()).toBe(404);
  await expect(page.getByTestId("tx-not-found")).toContainText("No such transaction");
  await expect(page.getByTestId("tx-not-found").getByRole("link", { name: "All transactions" })).toHaveAttribute(
    "href",
    "/transactions",
  );
});

test("a filter nothing matches says so, and a bad state in the link is named", async ({ page }) => {
  const label = `e2e-none-${randomUUID()}`;
  await openAs(page, "viewer", `/transactions?label=${label}`);
  await expect(page.getByLabel("Label (exact)")).toHaveValue(label);
  await expect(page.getByTestId("tx-empty")).toHaveText("No transactions match these filters.");
  await expect(page.getByTestId("tx-row")).toHaveCount(0);
  await expect(
    page.getByRole("search", { name: "Filter transactions" }).getByRole("link", { name: "Clear filters" }),
  ).toHaveAttribute("href", "/transactions");

  await page.goto("/transactions?state=bogus");
  const bad = page.getByTestId("tx-bad-filters");
  await expect(bad).toContainText("This link has filters the list does not understand");
  await expect(bad.locator("li")).toHaveCount(1);
  await expect(bad.locator("li")).toContainText(/^state: /);
  await bad.getByRole("link", { name: "Show all transactions" }).click();
  await expect(page).toHaveURL(/\/transactions$/);
  await expect(page.getByTestId("tx-row").first()).toBeVisible();
});

test("operators see the actions a finished transaction does not allow, with the reason", async ({ page }, testInfo) => {
  await openAs(page, "operator", "/transactions?state=committed");
  const id = (await page.getByTestId("tx-row").first().getAttribute("data-id"))!;
  await page.goto(`/transactions/${id}`);
  const actions = page.getByTestId("tx-actions");
  await expect(actions).toBeVisible();
  for (const action of ["retry", "force-abort", "force-commit"]) {
    await expect(actions.getByTestId(`tx-action-${action}`)).toBeDisabled();
  }
  await expect(actions).toContainText("the transaction is COMMITTED: nothing is left to resolve");
  await screenshot(page, testInfo, "transaction-actions");
});

test("an in-doubt transaction shows its stuck branch, and operators get the actions its state allows", async ({
  page,
}, testInfo) => {
  const stuck = await seedStuckCommit(testInfo);
  try {
    await openAs(page, "operator", `/transactions/${stuck.id}`);
    await expect(page.getByTestId("tx-in-doubt")).toContainText("In doubt: no progress logged for");

    const failing = page.locator('[data-testid="tx-branch"][data-shard="shard-b"]');
    await expect(failing).toContainText("PREPARED");
    await expect(failing).toContainText("connect ECONNREFUSED 127.0.0.1:1");
    await expect(failing).toContainText(/in \d+ s/);
    await expect(page.locator('[data-testid="tx-branch"][data-shard="shard-a"]')).toContainText("COMMITTED");
    const errors = page.locator('[data-testid="tx-timeline-record"][data-type="phase2.error"]');
    await expect(errors).toHaveCount(2);
    await expect(errors.last()).toContainText("next retry");

    const actions = page.getByTestId("tx-actions");
    await expect(actions.getByTestId("tx-action-retry")).toBeEnabled();
    await expect(actions.getByTestId("tx-action-force-abort")).toBeDisabled();
    await expect(actions).toContainText("a COMMIT decision is logged: it can only be re-driven, never flipped");
    await expect(actions.getByTestId("tx-action-force-commit")).toBeDisabled();

    // The confirmation needs a reason before it can be sent; cancelling sends nothing.
    await actions.getByTestId("tx-action-retry").click();
    const dialog = page.getByRole("dialog");
    await expect(dialog).toBeVisible();
    const confirm = dialog.getByRole("button", { name: "Retry phase two now" });
    await expect(confirm).toBeDisabled();
    await dialog.getByLabel(/Reason/).fill("shard-b is back");
    await expect(confirm).toBeEnabled();
    await screenshot(page, testInfo, "transaction-in-doubt");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(dialog).toHaveCount(0);
  } finally {
    await stuck.remove();
  }
});

/**
 * A COMMIT decided two minutes ago whose shard-b branch keeps failing, owned by an engine
 * instance that looks alive, so the demo's engine leaves it alone while the spec looks at it.
 */
async function seedStuckCommit(testInfo: TestInfo): Promise<{ id: string; remove(): Promise<void> }> {
  const runtimeFile = path.join(testInfo.project.testDir, "..", ".cohort", "e2e", "runtime.json");
  const { databaseUrl } = JSON.parse(await fs.readFile(runtimeFile, "utf8")) as { databaseUrl: string };
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const id = randomUUID();
  const owner = randomUUID();
  const gid = (shard: string) => `cohort:${id}:${shard}`;
  await db.query(
    `INSERT INTO engine_instances (id, host, pid, lease_expires_at) VALUES ($1, 'parked-by-e2e', 0, now() + interval '1 hour')`,
    [owner],
  );
  await db.query(
    `INSERT INTO transactions (id, label, status, decision, coordinator_id, started_at, deadline_at, decided_at, updated_at)
     VALUES ($1, 'e2e-stuck', 'COMMITTING', 'COMMIT', $2, now() - interval '121 s', now() - interval '91 s',
             now() - interval '120 s', now() - interval '120 s')`,
    [id, owner],
  );
  await db.query(
    `INSERT INTO branches (tx_id, shard, gid, status, vote, attempts, last_error, next_retry_at, prepared_at, resolved_at) VALUES
       ($1, 'shard-a', $2, 'COMMITTED', true, 1, NULL, NULL, now() - interval '120 s', now() - interval '119 s'),
       ($1, 'shard-b', $3, 'PREPARED', true, 4, 'connect ECONNREFUSED 127.0.0.1:1', now() + interval '45 s', now() - interval '120 s', NULL)`,
    [id, gid("shard-a"), gid("shard-b")],
  );
  await db.query(
    `INSERT INTO tx_log (tx_id, at, type, actor, shard, data) VALUES
       ($1, now() - interval '121 s', 'begin', 'engine:e2e', NULL, '{"label": "e2e-stuck"}'),
       ($1, now() - interval '120.5 s', 'prepare', 'engine:e2e', NULL, '{"shards": ["shard-a", "shard-b"]}'),
       ($1, now() - interval '120 s', 'decision', 'engine:e2e', NULL, '{"decision": "COMMIT", "votes": {"shard-a": "yes", "shard-b": "yes"}}'),
       ($1, now() - interval '119 s', 'phase2.done', 'engine:e2e', 'shard-a', '{"status": "COMMITTED"}'),
       ($1, now() - interval '119 s', 'phase2.error', 'engine:e2e', 'shard-b', jsonb_build_object('error', 'connect ECONNREFUSED 127.0.0.1:1', 'nextRetryAt', now() - interval '100 s')),
       ($1, now() - interval '60 s', 'phase2.error', 'engine:e2e', 'shard-b', jsonb_build_object('error', 'connect ECONNREFUSED 127.0.0.1:1', 'nextRetryAt', now() + interval '45 s'))`,
    [id],
  );
  return {
    id,
    remove: async () => {
      await db.query("DELETE FROM tx_log WHERE tx_id = $1", [id]);
      await db.query("DELETE FROM transactions WHERE id = $1", [id]);
      await db.query("DELETE FROM engine_instances WHERE id = $1", [owner]);
      await db.end();
    },
  };
}
