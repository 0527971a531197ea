// How the browser fetches the transaction list: one keyset page per request, keyed by the
// canonical filter string so equal views share a cache entry.
import { apiFetch } from "@/components/http/apiFetch";
import type { ListFilters } from "@/server/transactions/listParams";
import type { TxListPage } from "@/server/transactions/types";
import { filtersKey } from "./urlFilters";

export const listQueryKey = (key: string) => ["transactions", "list", key] as const;

export function fetchListPage(filters: ListFilters, cursor: string | null, signal?: AbortSignal): Promise<TxListPage> {
  const params = new URLSearchParams(filtersKey(filters));
  if (cursor) params.set("cursor", cursor);
  const query = params.toString();
  return apiFetch<TxListPage>(`/api/transactions${query ? `?${query}` : ""}`, signal ? { signal } : {});
}
