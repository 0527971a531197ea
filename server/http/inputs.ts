// Pieces of input schemas shared by routes and pages (zod only, no server state).
import { z } from "zod";

/**
 * A number that arrives as text in a query string and as a number in a JSON body. Unlike
 * z.coerce, only text is converted: a body's `true`, `[2]` or `null` is refused, not read as
 * 1, 2 or 0.
 */
export function numberFromText<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (typeof v === "string" && v.trim() !== "" ? Number(v) : v), schema);
}

/** A whole number from min to max, with messages that say which rule it broke. */
export function wholeNumber(min: number, max: number, what = "a number") {
  return numberFromText(
    z
      .number({ error: `must be ${what}` })
      .int("must be a whole number")
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");

/**
 * Why a string cannot be stored as text, or null when it can. PostgreSQL text holds neither
 * U+0000 nor a lone surrogate (which has no UTF-8 form), so without this check such input
 * fails deep in a query, or worse in an audit write after the action took effect.
 */
export function unstorableText(value: string): string | null {
  if (value.includes("\u0000")) return "must not contain NUL characters";
  if (LONE_SURROGATE.test(value)) return "must not contain lone surrogates (invalid Unicode)";
  return null;
}

/** `value` made storable: NUL removed, lone surrogates replaced by U+FFFD. */
export function storableText(value: string): string {
  return value.replaceAll("\u0000", "").replace(LONE_SURROGATES, "\uFFFD");
}
