// Mutations need the console's Origin and the session's CSRF token: a signed-in browser's
// cookie alone is not enough (DESIGN.md §7).
import { expect, test } from "@playwright/test";
import { mutationHeaders, consoleOrigin, screenshotPath, signIn, uniqueName } from "./support/auth";

test("a mutation without the CSRF token is refused with 403", async ({ page }, testInfo) => {
  await signIn(page, "admin");
  await page.goto("/users");
  const body = (name: string) => ({ name, role: "viewer", reason: "checking CSRF protection" });
  const refused = [uniqueName("csrf-none"), uniqueName("csrf-forged"), uniqueName("csrf-foreign")];

  const withoutToken = await page.request.post("/api/users", { data: body(refused[0]!), headers: { origin: consoleOrigin() } });
  expect(withoutToken.status()).toBe(403);
  expect(withoutToken.headers()["content-type"]).toBe("application/problem+json");
  expect(await withoutToken.json()).toMatchObject({ status: 403, code: "CSRF_FAILED" });

  const headers = await mutationHeaders(page.request);
  const wrongToken = await page.request.post("/api/users", {
    data: body(refused[1]!),
    headers: { ...headers, "x-csrf-token": "forged" },
  });
  expect(wrongToken.status()).toBe(403);

  const foreignOrigin = await page.request.post("/api/users", {
    data: body(refused[2]!),
    headers: { ...headers, origin: "http://evil.example" },
  });
  expect(foreignOrigin.status()).toBe(403);
  expect(await foreignOrigin.json()).toMatchObject({ code: "CSRF_FAILED" });

  // The same request with both is accepted: the refusals above were about CSRF alone.
  const accepted = uniqueName("csrf-ok");
  expect((await page.request.post("/api/users", { data: body(accepted), headers })).status()).toBe(201);

  const names = ((await (await page.request.get("/api/users")).json()) as { users: { name: string }[] }).users.map((u) => u.name);
  expect(names).toContain(accepted);
  for (const name of refused) expect(names).not.toContain(name);
  await page.reload();
  await expect(page.getByTestId(`user-row-${accepted}`)).toBeVisible();
  await page.screenshot({ path: screenshotPath(testInfo, "csrf"), fullPage: true });
});
