import { describe, expect, it } from "vitest";
import { z } from "zod";
import { storableText, unstorableText } from "../db/storableText";
import { wholeNumber } from "./inputs";

const limit = z.object({ limit: wholeNumber(1, 200).optional() });
const message = (value: unknown) => {
  const parsed = limit.safeParse({ limit: value });
  return parsed.success ? parsed.data.limit : parsed.error.issues.map((i) => i.message).join("; ");
};

describe("whole numbers from a query string or a body", () => {
  it("reads text and numbers alike", () => {
    expect(message("50")).toBe(50);
    expect(message(" 7 ")).toBe(7);
    expect(message(200)).toBe(200);
    expect(message(undefined)).toBeUndefined();
  });

  it("says which rule a value broke", () => {
    expect(message("abc")).toBe("must be a number");
    expect(message("")).toBe("must be a number");
    expect(message("0")).toBe("must be at least 1");
    expect(message("1e9")).toBe("must be at most 200");
    expect(message("1.5")).toBe("must be a whole number");
    expect(message("Infinity")).toBe("must be a number");
  });

  it("refuses what only z.coerce would read as a number", () => {
    for (const value of [true, [5], null, {}]) expect(message(value)).toBe("must be a number");
  });
});

describe("text PostgreSQL can store", () => {
  it("refuses NUL and lone surrogates, accepts pairs", () => {
    expect(unstorableText("plain")).toBeNull();
    expect(unstorableText("😀 emoji")).toBeNull();
    expect(unstorableText("a\u0000b")).toMatch(/NUL/);
    expect(unstorableText("\ud800")).toMatch(/surrogate/);
    expect(unstorableText("x\udc00")).toMatch(/surrogate/);
    expect(unstorableText("\udc00\ud800")).toMatch(/surrogate/);
  });

  it("makes text storable without losing the rest", () => {
    expect(storableText("a\u0000b\ud800c😀")).toBe("ab\ufffdc😀");
  });
});
