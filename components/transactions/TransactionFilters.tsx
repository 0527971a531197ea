"use client";
// The list's filters. They live in the URL (the page's only state), so a view can be shared
// and the back button works; selects apply at once, text fields on Enter or when left.
import Link from "next/link";
import type { FormEvent } from "react";
import { useDraftFields } from "@/components/forms/useDraftFields";
import type { ListFilters, StateFilter } from "@/server/transactions/listParams";
import { formatDuration } from "./format";
import { hasFilters } from "./urlFilters";

const STATE_OPTIONS: { value: StateFilter | ""; label: string }[] = [
  { value: "", label: "Any state" },
  { value: "OPEN", label: "In flight (unfinished)" },
  { value: "ACTIVE", label: "ACTIVE" },
  { value: "PREPARING", label: "PREPARING" },
  { value: "COMMITTING", label: "COMMITTING" },
  { value: "ABORTING", label: "ABORTING" },
  { value: "COMMITTED", label: "COMMITTED" },
  { value: "ABORTED", label: "ABORTED" },
];

const AGE_PRESETS = [10, 60, 300, 3600, 86_400];

export interface TransactionFiltersProps {
  filters: ListFilters;
  shardNames: string[];
  onChange(next: ListFilters): void;
}

export function TransactionFilters({ filters, shardNames, onChange }: TransactionFiltersProps) {
  // Text being typed is not applied yet; the fields follow the URL when it changes.
  const [draft, setDraft] = useDraftFields({ label: filters.label, idPrefix: filters.idPrefix });

  const applyText = () => {
    const next = {
      ...filters,
      label: draft.label.trim() || undefined,
      idPrefix: draft.idPrefix.replaceAll("-", "").trim().toLowerCase() || undefined,
    };
    if (next.label !== filters.label || next.idPrefix !== filters.idPrefix) onChange(next);
  };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    applyText();
  };

  const shards = filters.shard && !shardNames.includes(filters.shard) ? [...shardNames, filters.shard] : shardNames;
  const ages = filters.olderThan && !AGE_PRESETS.includes(filters.olderThan) ? [...AGE_PRESETS, filters.olderThan] : AGE_PRESETS;

  return (
    <form className="inline-form tx-filters" onSubmit={submit} role="search" aria-label="Filter transactions">
      <label className="field">
        <span>State</span>
        <select
          name="state"
          value={filters.state ?? ""}
          onChange={(e) => onChange({ ...filters, state: (e.target.value || undefined) as StateFilter | undefined })}
        >
          {STATE_OPTIONS.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Label (exact)</span>
        <input
          name="label"
          value={draft.label}
          onChange={(e) => setDraft("label", e.target.value)}
          onBlur={applyText}
          maxLength={200}
          size={14}
        />
      </label>
      <label className="field">
        <span>Shard</span>
        <select
          name="shard"
          value={filters.shard ?? ""}
          onChange={(e) => onChange({ ...filters, shard: e.target.value || undefined })}
        >
          <option value="">Any shard</option>
          {shards.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Age</span>
        <select
          name="olderThan"
          value={filters.olderThan ?? ""}
          onChange={(e) => onChange({ ...filters, olderThan: e.target.value ? Number(e.target.value) : undefined })}
        >
          <option value="">Any age</option>
          {ages.map((s) => (
            <option key={s} value={s}>
              older than {formatDuration(s * 1000)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Id starts with</span>
        <input
          name="id"
          className="mono"
          value={draft.idPrefix}
          onChange={(e) => setDraft("idPrefix", e.target.value)}
          onBlur={applyText}
          placeholder="0190a8c4"
          maxLength={36}
          size={12}
          spellCheck={false}
          autoComplete="off"
        />
      </label>
      <label className="field">
        <span>Order</span>
        <select
          name="sort"
          value={filters.sort}
          onChange={(e) => onChange({ ...filters, sort: e.target.value === "oldest" ? "oldest" : "newest" })}
        >
          <option value="newest">Newest first</option>
          <option value="oldest">Oldest first</option>
        </select>
      </label>
      <button type="submit" className="button button-quiet">
        Apply
      </button>
      {hasFilters(filters) && (
        <Link href="/transactions" className="tx-filters-clear">
          Clear filters
        </Link>
      )}
    </form>
  );
}
