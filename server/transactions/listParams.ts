// The transaction list's URL parameters, shared by the server (which validates them with
// zod in filters.ts) and the browser (which writes them into the address bar). Free of
// server imports and of zod, so client components can use it.
import { TX_STATUSES, type TxStatus } from "../engine/log/states";

// The states themselves are the log's (server/engine/log/states.ts, also import-free).
export { isOpenState, OPEN_STATES } from "../engine/log/states";
export const TX_STATES = TX_STATUSES;
/** `state=open` selects every unfinished transaction. */
export type StateFilter = TxStatus | "OPEN";
export type ListSort = "newest" | "oldest";

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;
export const MAX_LABEL_LENGTH = 200;

/** What a list request asks for, after validation (server) or loose reading (browser). */
export interface ListFilters {
  state?: StateFilter | undefined;
  label?: string | undefined;
  shard?: string | undefined;
  /** Only transactions that started more than this many seconds ago. */
  olderThan?: number | undefined;
  /** Lowercase hex digits of the id's beginning, dashes removed. */
  idPrefix?: string | undefined;
  sort: ListSort;
}

/** URL parameter names; `id` holds the prefix as typed (dashes allowed). */
export const PARAM = {
  state: "state",
  label: "label",
  shard: "shard",
  olderThan: "olderThan",
  id: "id",
  sort: "sort",
  limit: "limit",
  cursor: "cursor",
} as const;

/**
 * The canonical query string of a set of filters: lowercase state, defaults left out, a
 * fixed order. Equal filters give equal strings, which the browser uses as a cache key.
 */
export function filtersToSearchParams(filters: ListFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.state) params.set(PARAM.state, filters.state.toLowerCase());
  if (filters.label) params.set(PARAM.label, filters.label);
  if (filters.shard) params.set(PARAM.shard, filters.shard);
  if (filters.olderThan) params.set(PARAM.olderThan, String(filters.olderThan));
  if (filters.idPrefix) params.set(PARAM.id, filters.idPrefix);
  if (filters.sort !== "newest") params.set(PARAM.sort, filters.sort);
  return params;
}
