// Validation of the transaction list's query (URL) parameters. Used as the `query` schema
// of GET /api/transactions and by the list page for its first render, so a shared link and
// the API agree on what every parameter means. Bad input is a 400 naming the field.
import { z } from "zod";
import { wholeNumber } from "../http/inputs";
import { decodeCursor, type CursorKey } from "./cursor";
import { DEFAULT_LIMIT, MAX_LABEL_LENGTH, MAX_LIMIT, TX_STATES, type ListFilters } from "./listParams";

/** The same shape the engine's config accepts for shard names. */
const SHARD_NAME = /^[a-z][a-z0-9_-]{0,30}$/;
/** Ten years: an "older than" beyond that is a typo, not a filter. */
const MAX_AGE_SECONDS = 10 * 365 * 24 * 3600;

/** Query strings carry "" for a cleared form field; that means "no filter", not "match empty". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "" || v === null ? undefined : v), schema.optional());

export const listQuerySchema = z.object({
  state: optional(
    z
      .string()
      .transform((s) => s.toUpperCase())
      .pipe(z.enum([...TX_STATES, "OPEN"], { error: `expected one of ${[...TX_STATES, "OPEN"].join(", ").toLowerCase()}` })),
  ),
  label: optional(z.string().trim().min(1).max(MAX_LABEL_LENGTH)),
  shard: optional(z.string().regex(SHARD_NAME, "not a shard name")),
  olderThan: optional(wholeNumber(1, MAX_AGE_SECONDS, "a number of seconds")),
  // A uuid prefix as people paste it: any case, dashes anywhere.
  id: optional(
    z
      .string()
      .transform((s) => s.replaceAll("-", "").toLowerCase())
      .pipe(z.string().regex(/^[0-9a-f]{1,32}$/, "expected the beginning of a transaction id (hex digits)")),
  ),
  sort: optional(z.enum(["newest", "oldest"])).transform((s) => s ?? "newest"),
  limit: optional(wholeNumber(1, MAX_LIMIT)).transform((n) => n ?? DEFAULT_LIMIT),
  cursor: optional(
    z.string().transform((s, ctx): CursorKey => {
      try {
        return decodeCursor(s);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : "invalid cursor" });
        return z.NEVER;
      }
    }),
  ),
});

export type ListQueryInput = z.input<typeof listQuerySchema>;

export interface ListQuery extends ListFilters {
  limit: number;
  cursor?: CursorKey | undefined;
}

/** Turns the schema's output into the list's own shape (`id` becomes `idPrefix`). */
export function toListQuery(parsed: z.output<typeof listQuerySchema>): ListQuery {
  return {
    state: parsed.state,
    label: parsed.label,
    shard: parsed.shard,
    olderThan: parsed.olderThan,
    idPrefix: parsed.id,
    sort: parsed.sort,
    limit: parsed.limit,
    cursor: parsed.cursor,
  };
}

/**
 * For pages: Next.js hands searchParams over as string | string[]; a repeated parameter
 * keeps its first value, as URLSearchParams.get does for the API.
 */
export function parseListSearchParams(
  searchParams: Record<string, string | string[] | undefined>,
): { ok: true; query: ListQuery } | { ok: false; errors: { field: string; detail: string }[] } {
  const flat = Object.fromEntries(Object.entries(searchParams).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  const parsed = listQuerySchema.safeParse(flat);
  if (parsed.success) return { ok: true, query: toListQuery(parsed.data) };
  return { ok: false, errors: parsed.error.issues.map((i) => ({ field: i.path.join("."), detail: i.message })) };
}
