// The Locks page against the running demo: fault injection leaves an exclusive lock whose
// holder vanished (npm run inject -- stuck-lock), an operator releases it with a reason and
// the audit trail has it; a holder whose prepared branch still holds its rows is not
// released but pointed to; a viewer sees no Release button and the API refuses with 403.
import { execFileSync } from "node:child_process";
import { expect, test, type Page } from "@playwright/test";
import { mutationHeaders, screenshotPath, signIn, uniqueName } from "./support/auth";

interface InjectedLock {
  key: string;
  token: string;
  owner: string;
}

function inject(args: string[]): string {
  // env(1) points the script at the demo Playwright starts (its data dir holds runtime.json).
  const out = execFileSync("env", ["COHORT_DATA_DIR=.cohort/e2e", "npx", "tsx", "scripts/inject.ts", ...args], {
    encoding: "utf8",
  });
  return out.trim().split("\n").at(-1)!;
}

const injectStuckLock = (key: string, owner?: string): InjectedLock =>
  JSON.parse(inject(["stuck-lock", "--key", key, ...(owner ? ["--owner", owner] : [])])) as InjectedLock;

const lockRow = (page: Page, key: string) => page.locator(`[data-testid="lock-row"][data-key="${key}"]`);

test("an operator finds an injected stuck lock, releases it with a reason, and the audit has it", async ({ page }, testInfo) => {
  const key = `e2e-lock:${uniqueName("stuck")}`;
  const lock = injectStuckLock(key);
  const reason = `holder crashed (${key})`;
  await signIn(page, "operator");
  await page.goto("/locks");
  await expect(page.getByRole("heading", { name: "Locks", exact: true })).toBeVisible();

  // The filter goes into the URL, so the view can be shared.
  await page.getByLabel("Key prefix").fill(key);
  await page.getByLabel("Key prefix").press("Enter");
  await expect(page).toHaveURL(new RegExp(`prefix=${encodeURIComponent(key)}`));
  const row = lockRow(page, key);
  await expect(row).toBeVisible();
  await expect(row).toContainText("exclusive");
  await expect(row).toContainText(lock.token);
  await expect(row).toContainText("not in the log");
  await expect(row.getByTestId("holder-link")).toHaveAttribute("href", `/transactions/${lock.owner}`);
  // The TTL ticks down from about ten minutes.
  const ttl = row.locator("td").nth(5);
  await expect(ttl).toContainText(/^(9|10) min/);
  const before = await ttl.textContent();
  await expect(ttl).not.toHaveText(before!, { timeout: 5_000 });

  // Opened, the lock shows its holder and that nobody waits for it.
  await row.getByRole("button", { name: key }).click();
  await expect(page.getByTestId("lock-detail")).toContainText(lock.token);
  await expect(page.getByTestId("no-waiters")).toBeVisible();
  await page.screenshot({ path: screenshotPath(testInfo, "locks"), fullPage: true });

  await row.getByRole("button", { name: "Release…" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByTestId("release-token")).toHaveText(lock.token);
  await expect(dialog.getByRole("button", { name: "Release lock" })).toBeDisabled();
  await dialog.getByLabel(/Reason/).fill(reason);
  await page.screenshot({ path: screenshotPath(testInfo, "locks-release-dialog"), fullPage: true });
  await dialog.getByRole("button", { name: "Release lock" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("release-notice")).toContainText(`released token ${lock.token}`);
  await expect(row).toHaveCount(0);
  await expect(page.getByTestId("no-locks")).toBeVisible();

  // The audit trail names the user, the lock and the reason.
  await page.goto("/audit?targetType=lock");
  const entry = page.getByTestId("audit-row").filter({ hasText: reason });
  await expect(entry).toBeVisible();
  await expect(entry).toContainText("lock.release");
  await expect(entry).toContainText(key);
  await expect(entry).toContainText("operator");
  await page.screenshot({ path: screenshotPath(testInfo, "locks-audit"), fullPage: true });
});

test("a lock held by an in-doubt transaction is not released: the console points to the transaction", async ({
  page,
}, testInfo) => {
  test.setTimeout(90_000);
  const txId = (JSON.parse(inject(["stuck-prepared", "--label", "e2e-lock-holder"])) as { txId: string }).txId;
  const key = `e2e-lock:${uniqueName("prepared")}`;
  const lock = injectStuckLock(key, txId);
  await signIn(page, "operator");
  await page.goto(`/locks?owner=${txId}`);
  const row = lockRow(page, key);
  await expect(row).toContainText("PREPARING");
  await row.getByRole("button", { name: "Release…" }).click();
  const dialog = page.getByRole("dialog");
  const why = dialog.getByTestId("release-in-doubt");
  await expect(why).toContainText("still hold");
  await expect(why).toContainText("releasing the Redis lock would not free them");
  await expect(why.getByRole("link")).toHaveAttribute("href", `/transactions/${txId}`);
  await expect(dialog.getByRole("button", { name: "Release lock" })).toHaveCount(0);
  await page.screenshot({ path: screenshotPath(testInfo, "locks-in-doubt"), fullPage: true });

  // The server refuses too, with the transaction to resolve in the problem.
  const headers = await mutationHeaders(page.request);
  const refused = await page.request.post("/api/locks/release", {
    data: { key, expectedToken: lock.token, reason: "try anyway" },
    headers,
  });
  expect(refused.status()).toBe(409);
  expect(await refused.json()).toMatchObject({ code: "CONFLICT", txId, href: `/transactions/${txId}` });

  // Resolving the transaction is what frees the rows; then its lock goes too (the engine
  // lets go of a finished transaction's locks, or the operator releases it now).
  await dialog.getByRole("button", { name: "Close" }).click();
  const aborted = await page.request.post(`/api/transactions/${txId}/actions/force-abort`, {
    data: { reason: "clean up after the locks spec" },
    headers,
  });
  expect(aborted.status(), await aborted.text()).toBe(200);
  await expect(async () => {
    const released = await page.request.post("/api/locks/release", {
      data: { key, expectedToken: lock.token, reason: "holder resolved" },
      headers,
    });
    // 409 STALE_TOKEN: the engine released it first.
    expect([200, 409]).toContain(released.status());
    if (released.status() === 409) expect(((await released.json()) as { code: string }).code).toBe("STALE_TOKEN");
  }).toPass({ timeout: 15_000 });
  await expect(row).toHaveCount(0);
});

test("a viewer sees the stuck lock but no Release button, and the API refuses the release with 403", async ({
  page,
}, testInfo) => {
  const key = `e2e-lock:${uniqueName("viewer")}`;
  const lock = injectStuckLock(key);
  await signIn(page, "viewer");
  await page.goto(`/locks?prefix=${encodeURIComponent(key)}`);
  const row = lockRow(page, key);
  await expect(row).toBeVisible();
  await expect(row).toContainText(lock.token);
  await expect(page.getByRole("button", { name: "Release…" })).toHaveCount(0);
  await page.screenshot({ path: screenshotPath(testInfo, "locks-viewer"), fullPage: true });

  const refused = await page.request.post("/api/locks/release", {
    data: { key, expectedToken: lock.token, reason: "a viewer tries anyway" },
    headers: await mutationHeaders(page.request),
  });
  expect(refused.status()).toBe(403);
  expect(refused.headers()["content-type"]).toContain("application/problem+json");
  await page.reload();
  await expect(row).toBeVisible();

  // Clean up as an operator, so the next run starts without it.
  await page.context().clearCookies();
  await signIn(page, "operator");
  const ok = await page.request.post("/api/locks/release", {
    data: { key, expectedToken: lock.token, reason: "clean up after the viewer spec" },
    headers: await mutationHeaders(page.request),
  });
  expect(ok.status(), await ok.text()).toBe(200);
});

test("a bad filter in a shared link is named, and the list shows every lock instead", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto("/locks?mode=bogus");
  const bad = page.getByTestId("bad-filters");
  await expect(bad).toContainText("This link has filters that are not valid, so none is applied");
  await expect(bad).toContainText("mode:");
  await expect(page.getByLabel("Mode")).toHaveValue("");
  // The list itself still loads (empty or not), unfiltered.
  await expect(page.getByTestId("locks-table").or(page.getByTestId("no-locks"))).toBeVisible();
  await expect(page.getByTestId("locks-panel")).not.toContainText("Could not load");
});
