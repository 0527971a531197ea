// The Queues page against the running demo. Fault injection (npm run inject -- shard-down)
// makes phase two unable to reach one shard for a while: the phase-2 stream's backlog grows
// on the page, an operator moves one entry to the dead letters, the backlog drains once the
// shard is back, and the operator requeues the dead letter, which finishes its transaction.
// RabbitMQ's queue "cohort-e2e" (playwright.config.ts) is shown beside the streams.
import { execFileSync } from "node:child_process";
import net from "node:net";
import { connect } from "amqplib";
import { expect, test, type Page } from "@playwright/test";
import { screenshotPath, signIn, uniqueName } from "./support/auth";

const PHASE2 = "cohort:q:phase2";
const OUTAGE_S = 25;

function injectShardDown(seconds: number): { shard: string; until: number } {
  const out = execFileSync("npx", ["tsx", "scripts/inject.ts", "shard-down", "--seconds", String(seconds)], {
    env: { ...process.env, COHORT_DATA_DIR: ".cohort/e2e" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as { shard: string; until: number };
}

/** The phase-2 stream's pending count as the streams table shows it (group "engines"). */
async function pendingShown(page: Page): Promise<number> {
  const row = page.getByTestId(`stream-row-${PHASE2}`).and(page.locator('[data-group="engines"]'));
  const text = (await row.locator("td").nth(5).textContent()) ?? "";
  return Number(text.replace(/[^\d]/g, "") || "0");
}

test("phase-2 backlog grows while a shard is down and drains after; a dead letter is requeued", async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  await signIn(page, "operator");
  await page.goto(`/queues?stream=${encodeURIComponent(PHASE2)}`);
  await expect(page.getByRole("heading", { name: "Queues", exact: true })).toBeVisible();
  await expect(page.getByTestId(`stream-row-${PHASE2}`)).toBeVisible();
  await expect(page.getByTestId("stream-detail")).toBeVisible();

  const outage = injectShardDown(OUTAGE_S);
  // The backlog grows, live: a first reading above zero, then a higher one.
  let first = 0;
  await expect.poll(async () => (first = await pendingShown(page)), { timeout: 20_000 }).toBeGreaterThan(0);
  await expect.poll(() => pendingShown(page), { timeout: 20_000 }).toBeGreaterThan(first);
  await expect(page.getByTestId("queue-depth-chart")).toBeVisible();
  await page.screenshot({ path: screenshotPath(testInfo, "queues-backlog"), fullPage: true });

  // Take one entry of the unreachable shard out of the retries.
  const pendingTable = page.getByRole("table", { name: "Pending entries of group engines" });
  const entryRow = pendingTable.locator("tbody tr").filter({ hasText: outage.shard }).first();
  await expect(entryRow).toBeVisible();
  await expect(entryRow).toContainText("unreachable");
  const entryId = (await entryRow.locator("td").first().textContent())!.trim();
  const txHref = await entryRow.getByRole("link").first().getAttribute("href");
  expect(txHref).toMatch(/^\/transactions\/[0-9a-f-]{36}$/);
  const reason = `${outage.shard} is down: park it (${uniqueName("e2e")})`;
  await entryRow.getByRole("button", { name: `Move to dead letters ${entryId}` }).click();
  let dialog = page.getByRole("dialog");
  await dialog.getByLabel(/Reason/).fill(reason);
  await dialog.getByRole("button", { name: "Move to dead letters" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByTestId("queue-notice")).toContainText("moved to the dead letters");
  const deadRow = page
    .getByRole("table", { name: "Dead letters" })
    .locator("tbody tr")
    .filter({ has: page.locator(`a[href="${txHref}"]`) });
  await expect(deadRow).toBeVisible();
  await expect(deadRow).toContainText("operator:operator");
  const deadId = (await deadRow.getAttribute("data-testid"))!.replace("dead-row-", "");

  // The shard comes back: the backlog drains to nothing.
  await expect.poll(() => pendingShown(page), { timeout: OUTAGE_S * 1000 + 40_000, intervals: [1_000] }).toBe(0);
  await page.screenshot({ path: screenshotPath(testInfo, "queues-drained"), fullPage: true });

  // The parked transaction's decision is logged, so it is still delivered: a person's requeue
  // does it at once, or the engines' stale sweep does once the entry has been idle past the
  // grace period (DESIGN.md §4: a dead letter is an alarm, not a stop). Both end COMMITTED.
  const tx = await page.request.get(`/api${txHref}`);
  expect(tx.status()).toBe(200);
  const parked = ((await tx.json()) as { status: string }).status;
  expect(["COMMITTING", "COMMITTED"]).toContain(parked);
  if (parked === "COMMITTING") {
    await deadRow.getByRole("button", { name: `Requeue ${deadId}` }).click();
    dialog = page.getByRole("dialog");
    await dialog.getByLabel(/Reason/).fill(`${outage.shard} is back (${reason})`);
    await dialog.getByRole("button", { name: "Requeue" }).click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByTestId("queue-notice")).toContainText(/back on|finished|already/);
  }
  await expect
    .poll(async () => ((await (await page.request.get(`/api${txHref}`)).json()) as { status: string }).status, {
      timeout: 20_000,
    })
    .toBe("COMMITTED");

  // The operator's action is in the audit trail with the user and the reason.
  await page.goto("/audit?targetType=queue-entry");
  const audited = page.getByTestId("audit-row").filter({ hasText: reason });
  await expect(audited.filter({ hasText: "queue.deadLetter" })).toBeVisible();
  await page.screenshot({ path: screenshotPath(testInfo, "queues-audit"), fullPage: true });
});

test("a viewer sees the queues and no actions", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto(`/queues?stream=${encodeURIComponent(PHASE2)}`);
  await expect(page.getByTestId("stream-detail")).toBeVisible();
  await expect(page.getByTestId(`stream-row-cohort:q:outbox`)).toBeVisible();
  await expect(page.getByRole("button", { name: /^(Retry now|Move to dead letters|Requeue|Purge)/ })).toHaveCount(0);
});

test("a malformed or unknown stream in the link is explained, and the streams are still listed", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto(`/queues?stream=${encodeURIComponent("bad name")}`);
  await expect(page.getByTestId("bad-stream")).toContainText("The stream in this link is not a valid name and is ignored");
  await expect(page.getByTestId("bad-stream")).toContainText("letters, digits");
  await expect(page.getByTestId(`stream-row-${PHASE2}`)).toBeVisible();
  await expect(page.getByTestId("stream-detail")).toHaveCount(0);

  // Well formed but not there: the server's 404 detail, in words, without retrying first.
  const unknown = `cohort:q:${uniqueName("nope")}`;
  await page.goto(`/queues?stream=${encodeURIComponent(unknown)}`);
  const error = page.getByTestId("stream-error");
  await expect(error).toContainText(`Could not load the stream: No queue stream "${unknown}"`);
  await expect(error).toContainText(PHASE2);
  await expect(page.getByTestId(`stream-row-${PHASE2}`)).toBeVisible();
  await page.getByRole("link", { name: "All streams" }).click();
  await expect(page).toHaveURL(/\/queues$/);
  await expect(error).toHaveCount(0);
});

async function brokerReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port: 5672, timeout: 1_000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

test("RabbitMQ queues are shown beside the streams", async ({ page }) => {
  const reachable = await brokerReachable();
  if (!reachable) console.warn("RabbitMQ not reachable at 127.0.0.1:5672: skipping the RabbitMQ part of the Queues page");
  test.skip(!reachable, "RabbitMQ not reachable at 127.0.0.1:5672");
  const conn = await connect("amqp://guest:guest@127.0.0.1:5672");
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("cohort-e2e", { durable: false });
    await ch.purgeQueue("cohort-e2e");
    for (let i = 0; i < 3; i++) ch.sendToQueue("cohort-e2e", Buffer.from(`e2e ${i}`));
    await ch.waitForConfirms();
    await signIn(page, "viewer");
    await page.goto("/queues");
    const row = page.getByTestId("rabbit-row-cohort-e2e");
    await expect(row).toBeVisible();
    // ready 3, no consumers
    await expect(row.locator("td").nth(1)).toHaveText("3", { timeout: 15_000 });
    await expect(row).not.toContainText("not found");
  } finally {
    await conn.close().catch(() => undefined);
  }
});
