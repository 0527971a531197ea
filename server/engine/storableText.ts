// PostgreSQL cannot store every JavaScript string: text refuses NUL, and jsonb refuses NUL
// and unpaired UTF-16 surrogates. Values that reach the coordinator log are checked here,
// at the engine's edge, so a bad one fails its own call with a clear message instead of a
// whole group-commit batch (DESIGN.md §2: one bad item never fails a batch).
import { CohortError } from "../errors";

// (String.prototype.isWellFormed, once the TypeScript lib here has ES2024.)
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `value` cannot be stored as PostgreSQL text, or null when it can. */
export function unstorableText(value: string): string | null {
  if (value.includes("\u0000")) return "contains a NUL character";
  if (LONE_SURROGATE.test(value)) return "contains an unpaired UTF-16 surrogate";
  return null;
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
