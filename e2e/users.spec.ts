// User management: an admin creates a user and changes its role, each with a reason, and
// both show on the Audit page; a viewer has no Users page.
import { expect, test } from "@playwright/test";
import { DEMO_PASSWORD, screenshotPath, signIn, signInWithForm, uniqueName } from "./support/auth";

test("an admin creates a user and changes its role, and the Audit page shows both", async ({ page, browser }, testInfo) => {
  await signIn(page, "admin");
  await page.goto("/users");
  await expect(page.getByRole("heading", { name: "Users", level: 1 })).toBeVisible();

  const name = uniqueName("e2e-user");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Role", { exact: true }).selectOption("viewer");
  await page.getByRole("button", { name: "Create…" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText(`Create ${name} as viewer`);
  await dialog.getByLabel(/Reason/).fill("joins the night shift");
  await dialog.getByRole("button", { name: "Create user" }).click();
  await expect(dialog).toHaveCount(0);
  const reveal = page.getByTestId("created-password");
  await expect(reveal).toContainText(`Password for ${name}`);
  const password = (await reveal.locator("code").innerText()).trim();
  expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);

  const row = page.getByTestId(`user-row-${name}`);
  await expect(row).toContainText("active");
  await row.getByLabel(`Role of ${name}`).selectOption("operator");
  await expect(dialog).toContainText(`Change ${name} from viewer to operator`);
  // A reason is required: the button stays disabled until there is one.
  await expect(dialog.getByRole("button", { name: "Change role" })).toBeDisabled();
  await dialog.getByLabel(/Reason/).fill("covers for an operator on leave");
  await dialog.getByRole("button", { name: "Change role" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row.getByLabel(`Role of ${name}`)).toHaveValue("operator");
  await page.screenshot({ path: screenshotPath(testInfo, "users"), fullPage: true });

  // The new user signs in with the password shown once, and has the new role.
  const context = await browser.newContext();
  const newcomer = await context.newPage();
  await newcomer.goto("/login");
  await signInWithForm(newcomer, name, password);
  await expect(newcomer.getByTestId("whoami")).toHaveText(new RegExp(`${name}\\s*operator`));
  await context.close();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
  await page.getByLabel("Target id").fill(name);
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(new RegExp(`targetId=${name}`));
  const rows = page.getByTestId("audit-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toContainText("user.role");
  await expect(rows.nth(0)).toContainText("admin");
  await expect(rows.nth(0)).toContainText("covers for an operator on leave");
  await expect(rows.nth(0)).toContainText("role: viewer → operator");
  await expect(rows.nth(0)).toContainText("ok");
  await expect(rows.nth(1)).toContainText("user.create");
  await expect(rows.nth(1)).toContainText("joins the night shift");
  await page.screenshot({ path: screenshotPath(testInfo, "audit"), fullPage: true });
});

test("a viewer sees no Users link and is refused the page and its API", async ({ page }, testInfo) => {
  await page.goto("/login");
  await signInWithForm(page, "viewer", DEMO_PASSWORD);
  await expect(page.getByTestId("whoami")).toHaveText(/viewer\s*viewer/);
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" })).toHaveCount(0);

  await page.goto("/users");
  await expect(page.getByTestId("forbidden")).toContainText("This page needs the admin role");
  await expect(page.getByTestId("users-table")).toHaveCount(0);
  const api = await page.request.get("/api/users");
  expect(api.status()).toBe(403);
  expect(await api.json()).toMatchObject({ code: "FORBIDDEN" });
  // The audit trail is for every signed-in user.
  await page.goto("/audit");
  await expect(page.getByRole("heading", { name: "Audit" })).toBeVisible();
  await page.goto("/users");
  await page.screenshot({ path: screenshotPath(testInfo, "viewer-forbidden"), fullPage: true });
});

test("a refused change shows the server's reason in the dialog, and Escape closes it", async ({ page }) => {
  await signIn(page, "admin");
  await page.goto("/users");
  // "operator" is one of the demo users, so the name is taken.
  await page.getByLabel("Name").fill("operator");
  await page.getByLabel("Role", { exact: true }).selectOption("viewer");
  await page.getByRole("button", { name: "Create…" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel(/Reason/).fill("a second operator account");
  await dialog.getByRole("button", { name: "Create user" }).click();
  // The problem+json detail, as a sentence; the dialog stays open with the reason kept.
  await expect(dialog.getByRole("alert")).toHaveText('A user named "operator" already exists');
  await expect(dialog.getByLabel(/Reason/)).toHaveValue("a second operator account");
  await expect(page.getByTestId("created-password")).toHaveCount(0);
  await dialog.getByLabel(/Reason/).press("Escape");
  await expect(dialog).toHaveCount(0);
});

test("a bad filter in an audit link is named instead of failing the page", async ({ page }) => {
  await signIn(page, "viewer");
  await page.goto("/audit?outcome=bogus&user=admin");
  const bad = page.getByTestId("bad-filters");
  await expect(bad).toContainText("This link has filters that are not valid, so none is applied");
  await expect(bad).toContainText("outcome:");
  await expect(page.getByLabel("Outcome")).toHaveValue("");
  await expect(page.getByTestId("audit-table").or(page.getByText("No audit entries match."))).toBeVisible();
});
