// The login brake against a real Redis: counts survive across requests (and would across
// console instances), a correct password forgives, and a parallel burst cannot get more
// guesses through than the limit.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCohortError, type CohortError } from "../errors";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { login, LOGIN_FAILED_MESSAGE } from "./login";
import { DEFAULT_LOGIN_LIMITS, loginKeys, reserveLoginAttempt } from "./loginRateLimit";
import { createUser } from "./users";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 2 });
});
afterAll(async () => {
  await env?.cleanup();
});

const unique = (p: string) => `${p}-${randomBytes(4).toString("hex")}`;
const PASSWORD = "the right password";

async function attempt(name: string, password: string, address: string): Promise<"ok" | CohortError> {
  try {
    await login(env.prisma, env.redis, { name, password, address, userAgent: null, namespace: env.namespace });
    return "ok";
  } catch (err) {
    if (isCohortError(err)) return err;
    throw err;
  }
}

describe("login rate limit", () => {
  it("allows 5 failures per name, then refuses even the right password with a retry time", async () => {
    const name = unique("rl");
    await createUser(env.prisma, { name, role: "viewer", password: PASSWORD });
    const address = unique("addr");
    for (let i = 0; i < DEFAULT_LOGIN_LIMITS.perUser.max; i++) {
      const result = await attempt(name, "wrong password", address);
      expect(result).not.toBe("ok");
      expect((result as CohortError).code).toBe("UNAUTHENTICATED");
      expect((result as CohortError).message).toBe(LOGIN_FAILED_MESSAGE);
    }
    const limited = await attempt(name, PASSWORD, address);
    expect(limited).not.toBe("ok");
    expect((limited as CohortError).code).toBe("RATE_LIMITED");
    expect((limited as CohortError).status).toBe(429);
    const retry = (limited as CohortError).details?.retryAfterSeconds as number;
    expect(retry).toBeGreaterThan(200);
    expect(retry).toBeLessThanOrEqual(300);
    // Another address does not help: the name is what is being guessed.
    expect(((await attempt(name, PASSWORD, unique("elsewhere"))) as CohortError).code).toBe("RATE_LIMITED");
  });

  it("gives the same answer for unknown names, disabled users and wrong passwords", async () => {
    const name = unique("known");
    await createUser(env.prisma, { name, role: "viewer", password: PASSWORD });
    const address = unique("addr");
    const answers = [await attempt(unique("nobody"), PASSWORD, address), await attempt(name, "not the password", address)];
    await env.prisma.user.update({ where: { name }, data: { disabledAt: new Date() } });
    answers.push(await attempt(name, PASSWORD, address));
    for (const a of answers) expect(a).toMatchObject({ code: "UNAUTHENTICATED", message: LOGIN_FAILED_MESSAGE });
  });

  it("forgives a name's failures after a successful login", async () => {
    const name = unique("forgive");
    await createUser(env.prisma, { name, role: "viewer", password: PASSWORD });
    const address = unique("addr");
    for (let i = 0; i < 4; i++) await attempt(name, "wrong", address);
    expect(await attempt(name, PASSWORD, address)).toBe("ok");
    for (let i = 0; i < 4; i++) await attempt(name, "wrong", address);
    expect(await attempt(name, PASSWORD, address)).toBe("ok");
  });

  it("limits one address guessing many names", async () => {
    const address = unique("sprayer");
    const results: ("ok" | CohortError)[] = [];
    for (let i = 0; i < DEFAULT_LOGIN_LIMITS.perAddress.max + 1; i++)
      results.push(await attempt(unique("spray"), "guess", address));
    expect(results.slice(0, -1).every((r) => r !== "ok" && r.code === "UNAUTHENTICATED")).toBe(true);
    expect((results.at(-1) as CohortError).code).toBe("RATE_LIMITED");
  });

  it("lets no more than the limit through a parallel burst", async () => {
    const keys = loginKeys(unique("burst"), unique("addr"), `test:${unique("rl")}`);
    const limits = { perUser: { max: 5, windowMs: 60_000 }, perAddress: { max: 100, windowMs: 60_000 } };
    const results = await Promise.all(Array.from({ length: 40 }, () => reserveLoginAttempt(env.redis, keys, limits)));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    await env.redis.del(keys.user, keys.address);
  });

  it("opens again when the window ends", async () => {
    const keys = loginKeys(unique("window"), unique("addr"), `test:${unique("rl")}`);
    const limits = { perUser: { max: 2, windowMs: 300 }, perAddress: { max: 100, windowMs: 300 } };
    for (let i = 0; i < 2; i++) expect((await reserveLoginAttempt(env.redis, keys, limits)).allowed).toBe(true);
    expect(await reserveLoginAttempt(env.redis, keys, limits)).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    await new Promise((r) => setTimeout(r, 400));
    expect((await reserveLoginAttempt(env.redis, keys, limits)).allowed).toBe(true);
    await env.redis.del(keys.user, keys.address);
  });
});
