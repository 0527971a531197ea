// PostgreSQL cannot store every JavaScript string: text refuses NUL, and jsonb refuses NUL
// and unpaired UTF-16 surrogates (they have no UTF-8 form). The one place that knows it:
// the API's edge refuses such input (server/http), the engine's edge refuses it before it
// reaches a group-commit batch (DESIGN.md §2: one bad item never fails a batch), and the
// audit trail stores a cleaned copy rather than lose a row.
import { CohortError } from "../errors";

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
// (String.prototype.isWellFormed, once the TypeScript lib here has ES2024.)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");

/** Why `value` cannot be stored as PostgreSQL text (to follow a field's name), or null when it can. */
export function unstorableText(value: string): string | null {
  if (value.includes("\u0000")) return "must not contain NUL characters";
  if (LONE_SURROGATE.test(value)) return "must not contain lone surrogates (invalid Unicode)";
  return null;
}

/** `value` made storable: NUL removed, lone surrogates replaced by U+FFFD. */
export function storableText(value: string): string {
  return value.replaceAll("\u0000", "").replace(LONE_SURROGATES, "\uFFFD");
}

export function assertStorableText(what: string, value: string): void {
  const why = unstorableText(value);
  if (why) throw new CohortError("BAD_REQUEST", `${what} ${why}`);
}

/** Every string (keys included) of a JSON value must be storable in jsonb. */
export function assertStorableJson(what: string, value: unknown, depth = 0): void {
  if (depth > 100) throw new CohortError("BAD_REQUEST", `${what} is nested more than 100 levels deep`);
  if (typeof value === "string") return assertStorableText(what, value);
  if (Array.isArray(value)) {
    for (const item of value) assertStorableJson(what, item, depth + 1);
    return;
  }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      assertStorableText(`${what} key`, k);
      assertStorableJson(what, v, depth + 1);
    }
  }
}
