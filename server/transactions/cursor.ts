// Opaque keyset cursors for the transaction list: base64url of {t, id}, the sort key
// (started_at in epoch milliseconds, id) of the last row a page showed. Opaque so that
// clients cannot come to depend on the encoding; validated so a tampered or truncated
// cursor is a 400, never a 500 from a failed cast in SQL.
import { z } from "zod";
import { CohortError } from "../errors";

export interface CursorKey {
  /** started_at in epoch milliseconds: the column is timestamptz(3), so this is exact. */
  t: number;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Far more than {t, id} needs; anything longer is not one of ours. */
const MAX_CURSOR_LENGTH = 200;

/** 9999-12-31T23:59:59.999Z: past it, a Date no longer prints as a timestamp PostgreSQL reads. */
const MAX_CURSOR_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const cursorKey = z.strictObject({
  // Cursors come from started_at, which is never before 1970; a time outside the years
  // 1970–9999 would reach SQL as a timestamp PostgreSQL cannot parse (a 500, not a 400).
  t: z.number().int().min(0).max(MAX_CURSOR_TIME),
  id: z.string().regex(UUID),
});

export function encodeCursor(key: { startedAt: Date; id: string }): string {
  const payload: CursorKey = { t: key.startedAt.getTime(), id: key.id };
  return Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
}

/** Throws CohortError BAD_REQUEST (problem+json 400 through the API wrapper) on anything malformed. */
export function decodeCursor(cursor: string): CursorKey {
  const bad = (why: string) =>
    new CohortError("BAD_REQUEST", `invalid cursor: ${why}`, {
      details: { errors: [{ in: "query", field: "cursor", detail: why }] },
    });
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) {
    throw bad("not a cursor returned by this API");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw bad("not a cursor returned by this API");
  }
  const key = cursorKey.safeParse(parsed);
  if (!key.success) throw bad("not a cursor returned by this API");
  return key.data;
}
