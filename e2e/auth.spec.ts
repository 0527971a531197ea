// Signing in and out, the redirect to /login when signed out, and the login brake.
import { expect, test } from "@playwright/test";
import { createUserAsAdmin, screenshotPath, signIn, signInWithForm, uniqueName } from "./support/auth";

test("signs in with the form, lands where it was going, and signs out", async ({ page }, testInfo) => {
  await page.goto("/audit");
  await expect(page).toHaveURL(/\/login\?next=%2Faudit$/);
  await expect(page.getByRole("heading", { name: "Sign in to Cohort" })).toBeVisible();
  // Signed out, the shell shows no navigation.
  await expect(page.getByRole("navigation", { name: "Main" })).toHaveCount(0);
  await page.screenshot({ path: screenshotPath(testInfo, "login"), fullPage: true });

  await signInWithForm(page, "operator");
  await expect(page).toHaveURL(/\/audit$/);
  await expect(page.getByTestId("whoami")).toHaveText(/operator\s*operator/);
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const link of ["Overview", "Transactions", "In doubt", "Audit"])
    await expect(nav.getByRole("link", { name: link })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Users" })).toHaveCount(0);
  // Sections not built yet show as disabled placeholders; built ones are links.
  for (const section of ["Locks", "Queues", "Ring"]) {
    const item = nav.getByText(section, { exact: true });
    await expect(item).toBeVisible();
    if ((await item.evaluate((e) => e.tagName)) !== "A") await expect(item).toHaveAttribute("aria-disabled", "true");
  }
  await expect(page.getByRole("banner").getByTestId("connection-badge")).toHaveText("live");
  await page.screenshot({ path: screenshotPath(testInfo, "signed-in"), fullPage: true });

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  expect((await page.request.get("/api/auth/me")).status()).toBe(401);
});

test("wrong passwords are answered generically, then rate-limited with a readable message", async ({
  page,
  browser,
}, testInfo) => {
  await signIn(page, "admin");
  const name = uniqueName("guessed");
  await createUserAsAdmin(page, name, "viewer");

  const context = await browser.newContext();
  const visitor = await context.newPage();
  await visitor.goto("/login");
  for (let i = 1; i <= 5; i++) {
    await signInWithForm(visitor, name, `wrong password ${i}`);
    await expect(visitor.getByTestId("login-error")).toHaveText("Wrong user name or password");
  }
  await signInWithForm(visitor, name, "wrong password 6");
  await expect(visitor.getByTestId("login-error")).toHaveText(/^Too many failed sign-in attempts: try again in 5 minutes$/);
  await expect(visitor).toHaveURL(/\/login$/);
  await visitor.screenshot({ path: screenshotPath(testInfo, "login-rate-limited"), fullPage: true });
  await context.close();
});
