import { describe, expect, it } from "vitest";
import { assertStorableJson, storableText, unstorableText } from "./storableText";

describe("storable text", () => {
  it("accepts ordinary and astral text", () => {
    expect(unstorableText("transfer 😀 ü")).toBeNull();
  });

  it("refuses NUL and unpaired surrogates", () => {
    expect(unstorableText("a\u0000b")).toMatch(/NUL/);
    expect(unstorableText("a\ud800")).toMatch(/surrogate/);
    expect(unstorableText("\udc00x")).toMatch(/surrogate/);
  });

  it("walks JSON values, keys included", () => {
    expect(() => assertStorableJson("payload", { a: [1, { b: "ok" }] })).not.toThrow();
    expect(() => assertStorableJson("payload", { a: [1, { b: "bad\u0000" }] })).toThrow(/payload must not contain NUL/);
    expect(() => assertStorableJson("payload", { ["k\ud800"]: 1 })).toThrow(/payload key must not contain lone surrogates/);
  });

  it("cleans what it would refuse", () => {
    expect(storableText("a\u0000b\ud800c😀")).toBe("ab\ufffdc😀");
  });
});
