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
