// In-doubt resolution against the running demo: fault injection leaves real two-shard
// transactions stuck as a hung coordinator would, and an operator resolves them from the
// dialog; the audit trail and the transaction's timeline record who did it and why.
import { execFileSync } from "node:child_process";
import { expect, test, type Page } from "@playwright/test";
import { mutationHeaders, ORIGIN, screenshotPath, signIn, uniqueName } from "./support/auth";

function inject(kind: "stuck-prepared" | "stuck-decided", label: string): string {
  const out = execFileSync("npx", ["tsx", "scripts/inject.ts", kind, "--label", label], {
    env: { ...process.env, COHORT_DATA_DIR: ".cohort/e2e" },
    encoding: "utf8",
  });
  return (JSON.parse(out.trim().split("\n").at(-1)!) as { txId: string }).txId;
}

async function openDialog(page: Page, txId: string) {
  const row = page.getByTestId(`in-doubt-row-${txId}`);
  // A transaction counts as in doubt once it has made no progress for 10 s.
  await expect(row).toBeVisible({ timeout: 30_000 });
  await row.getByRole("button", { name: "Resolve…" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  return dialog;
}

test("an operator re-drives a decided transaction and force-aborts an undecided one", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const decided = inject("stuck-decided", "e2e-decided");
  const undecided = inject("stuck-prepared", "e2e-undecided");
  // The demo's data outlives runs: reasons unique to this run find this run's audit entries.
  const run = uniqueName("run");
  const hung = `coordinator hung after the decision (${run})`;
  const drill = `drill: abort the stuck transfer (${run})`;
  await signIn(page, "operator");
  await page.goto("/in-doubt");
  await expect(page.getByRole("heading", { name: "In doubt" })).toBeVisible();

  // Decided: COMMIT is logged, so abort is refused and only retry is offered.
  let dialog = await openDialog(page, decided);
  await expect(dialog.getByTestId("resolution-decision")).toHaveText("COMMIT");
  await expect(dialog.getByTestId("shard-state-shard-a")).toContainText("prepared");
  await expect(dialog.getByRole("radio", { name: /Force abort/ })).toBeDisabled();
  await page.screenshot({ path: screenshotPath(testInfo, "in-doubt-dialog"), fullPage: true });
  await dialog.getByRole("radio", { name: /Retry phase two now/ }).check();
  await dialog.getByLabel(/Reason/).fill(hung);
  await dialog.getByRole("button", { name: "Retry phase two now" }).click();
  await expect(dialog.getByTestId("resolution-result")).toContainText("Now COMMITTED");
  await dialog.getByRole("button", { name: "Close", exact: true }).click();

  // Undecided: both branches prepared, no decision; force-abort is allowed.
  dialog = await openDialog(page, undecided);
  await expect(dialog.getByTestId("resolution-decision")).toHaveText("none");
  await dialog.getByRole("radio", { name: /Force abort/ }).check();
  await dialog.getByLabel(/Reason/).fill(drill);
  await dialog.getByRole("button", { name: "Force abort" }).click();
  await expect(dialog.getByTestId("resolution-result")).toContainText("Now ABORTED");
  await dialog.getByRole("button", { name: "Close", exact: true }).click();
  await expect(page.getByTestId(`in-doubt-row-${undecided}`)).toHaveCount(0, { timeout: 15_000 });

  // The audit trail has both, with the reasons.
  await page.goto("/audit");
  await expect(page.getByRole("cell", { name: hung, exact: true })).toBeVisible();
  await expect(page.getByRole("cell", { name: drill, exact: true })).toBeVisible();
  await page.screenshot({ path: screenshotPath(testInfo, "audit-after-resolution"), fullPage: true });

  // And the transaction's own timeline shows the operator's decision.
  const detail = await page.request.get(`/api/transactions/${undecided}`);
  expect(detail.status()).toBe(200);
  expect(JSON.stringify(await detail.json())).toContain("user:operator");
});

test("a viewer sees no resolve buttons and the API refuses the action with 403", async ({ page }, testInfo) => {
  test.setTimeout(90_000);
  const txId = inject("stuck-prepared", "e2e-viewer");
  await signIn(page, "viewer");
  await page.goto("/in-doubt");
  const row = page.getByTestId(`in-doubt-row-${txId}`);
  await expect(row).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("button", { name: "Resolve…" })).toHaveCount(0);
  await expect(page.getByTestId("bulk-panel")).toHaveCount(0);
  await page.screenshot({ path: screenshotPath(testInfo, "in-doubt-viewer"), fullPage: true });
  const refused = await page.request.post(`/api/transactions/${txId}/actions/force-abort`, {
    data: { reason: "a viewer tries anyway" },
    headers: await mutationHeaders(page.request),
  });
  expect(refused.status()).toBe(403);
  expect(refused.headers()["content-type"]).toContain("application/problem+json");

  // Clean up as an operator so the stuck branches do not hold locks for the next specs.
  await page.context().clearCookies();
  await signIn(page, "operator");
  const ok = await page.request.post(`/api/transactions/${txId}/actions/force-abort`, {
    data: { reason: "clean up after the viewer spec" },
    headers: { ...(await mutationHeaders(page.request)), origin: ORIGIN },
  });
  expect(ok.status(), await ok.text()).toBe(200);
});
