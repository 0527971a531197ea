// Signing in for end-to-end specs. playwright.config.ts gives the demo users admin,
// operator and viewer this password (COHORT_DEMO_PASSWORD); specs that need more users
// create their own through the API, so each spec seeds what it uses.
import path from "node:path";
import { expect, test, type APIRequestContext, type Page, type TestInfo } from "@playwright/test";

export const DEMO_PASSWORD = "e2e-demo-password";
/** playwright.config.ts's default baseURL; consoleOrigin() follows a config that changes it. */
export const ORIGIN = "http://localhost:3100";

/** The console's origin (the project's baseURL), for the Origin header of API mutations. */
export function consoleOrigin(): string {
  return new URL(test.info().project.use.baseURL ?? ORIGIN).origin;
}

export type DemoUser = "admin" | "operator" | "viewer";

/** Signs in through the API: the cookie lands in the page's context, like a real sign-in. */
export async function signIn(page: Page, name: string, password = DEMO_PASSWORD): Promise<void> {
  // Playwright's request context sends no Origin by itself, and the console refuses mutations without one.
  const response = await page.request.post("/api/auth/login", { data: { name, password }, headers: { origin: consoleOrigin() } });
  expect(response.status(), await response.text()).toBe(200);
}

/** Signs in through the form, the way a person does. */
export async function signInWithForm(page: Page, name: string, password = DEMO_PASSWORD): Promise<void> {
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Headers for a mutation by the signed-in user of this page's context. */
export async function mutationHeaders(request: APIRequestContext): Promise<Record<string, string>> {
  const me = await request.get("/api/auth/me");
  expect(me.status()).toBe(200);
  const { csrfToken } = (await me.json()) as { csrfToken: string };
  return { origin: consoleOrigin(), "x-csrf-token": csrfToken };
}

/** Creates a user as the signed-in admin and returns its generated password. */
export async function createUserAsAdmin(page: Page, name: string, role: DemoUser): Promise<string> {
  const response = await page.request.post("/api/users", {
    data: { name, role, reason: "seeded by an end-to-end spec" },
    headers: await mutationHeaders(page.request),
  });
  expect(response.status(), await response.text()).toBe(201);
  return ((await response.json()) as { password: string }).password;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296)
    .toString(36)
    .padStart(2, "0")}`;
}

export function screenshotPath(testInfo: TestInfo, name: string): string {
  return path.join(testInfo.project.testDir, "screenshots", `${name}.png`);
}
