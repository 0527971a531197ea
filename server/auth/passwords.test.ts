import { describe, expect, it } from "vitest";
import { generatePassword, hashPassword, passwordProblem, verifyAgainstNothing, verifyPassword } from "./passwords";

// Cheap parameters keep the suite fast; the stored format and checks are the same.
const FAST = { N: 2 ** 10, r: 8, p: 1 };

describe("passwords", () => {
  it("verifies the right password and rejects others", async () => {
    const hash = await hashPassword("correct horse battery", FAST);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    await expect(verifyPassword("correct horse battery", hash)).resolves.toBe(true);
    await expect(verifyPassword("correct horse batterx", hash)).resolves.toBe(false);
    await expect(verifyPassword("", hash)).resolves.toBe(false);
  });

  it("salts every hash", async () => {
    const [a, b] = await Promise.all([hashPassword("same password!", FAST), hashPassword("same password!", FAST)]);
    expect(a).not.toBe(b);
    await expect(verifyPassword("same password!", a)).resolves.toBe(true);
    await expect(verifyPassword("same password!", b)).resolves.toBe(true);
  });

  it("uses the default (OWASP) parameters and reads them back from the hash", async () => {
    const hash = await hashPassword("default parameters");
    expect(hash.startsWith("scrypt$32768$8$3$")).toBe(true);
    await expect(verifyPassword("default parameters", hash)).resolves.toBe(true);
  }, 30_000);

  it("treats malformed or absurd stored hashes as a mismatch instead of throwing", async () => {
    for (const stored of [
      "",
      "plain",
      "bcrypt$x",
      "scrypt$abc$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5",
      "scrypt$1073741824$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5",
      "scrypt$1000$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5",
    ]) {
      await expect(verifyPassword("whatever", stored)).resolves.toBe(false);
    }
  });

  it("normalises Unicode, so the same password typed on another keyboard still matches", async () => {
    const hash = await hashPassword("caf\u00e9 au lait!", FAST);
    await expect(verifyPassword("cafe\u0301 au lait!", hash)).resolves.toBe(true);
  });

  it("rejects overlong passwords without hashing them", async () => {
    const hash = await hashPassword("x".repeat(20), FAST);
    await expect(verifyPassword("x".repeat(10_000), hash)).resolves.toBe(false);
  });

  it("verifyAgainstNothing always fails", async () => {
    await expect(verifyAgainstNothing("anything")).resolves.toBe(false);
  }, 30_000);

  it("generates long random passwords that pass the policy", () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(generatePassword()).not.toBe(a);
    expect(passwordProblem(a)).toBeNull();
    expect(passwordProblem("short")).toMatch(/at least 12/);
    expect(passwordProblem("x".repeat(300))).toMatch(/at most/);
  });
});
