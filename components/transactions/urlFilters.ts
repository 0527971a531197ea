// The list's filters as the browser reads them from the address bar. Lenient on purpose:
// the server validates (and the page explains a bad link); here a value only has to be
// good enough to build the request and to pre-filter live events.
import { PARAM, TX_STATES, filtersToSearchParams, type ListFilters, type StateFilter } from "@/server/transactions/listParams";

type Params = Pick<URLSearchParams, "get">;

export function readFilters(params: Params): ListFilters {
  const state = params.get(PARAM.state)?.toUpperCase();
  const olderThan = Number(params.get(PARAM.olderThan));
  return {
    state: state && ([...TX_STATES, "OPEN"] as string[]).includes(state) ? (state as StateFilter) : undefined,
    label: params.get(PARAM.label)?.trim() || undefined,
    shard: params.get(PARAM.shard) || undefined,
    olderThan: Number.isInteger(olderThan) && olderThan > 0 ? olderThan : undefined,
    idPrefix: params.get(PARAM.id)?.replaceAll("-", "").toLowerCase() || undefined,
    sort: params.get(PARAM.sort) === "oldest" ? "oldest" : "newest",
  };
}

/** The canonical query string: the cache key of a view and the URL it is shared by. */
export function filtersKey(filters: ListFilters): string {
  return filtersToSearchParams(filters).toString();
}

export function hasFilters(filters: ListFilters): boolean {
  return filtersKey({ ...filters, sort: "newest" }) !== "";
}
