"use client";
// The list's filters live in the URL, so a view can be shared and the back button works.
// Text fields apply on Enter or when left, the mode select at once.
import Link from "next/link";
import type { FormEvent } from "react";
import { useDraftFields } from "@/components/forms/useDraftFields";
import type { LockMode } from "@/server/locks/types";
import styles from "./locks.module.css";

export interface LockFilterValues {
  prefix?: string | undefined;
  owner?: string | undefined;
  mode?: LockMode | undefined;
}

export function lockFiltersHref(f: LockFilterValues): string {
  const params = new URLSearchParams();
  if (f.prefix) params.set("prefix", f.prefix);
  if (f.owner) params.set("owner", f.owner);
  if (f.mode) params.set("mode", f.mode);
  const query = params.toString();
  return query ? `/locks?${query}` : "/locks";
}

export function LockFilters({ filters, onChange }: { filters: LockFilterValues; onChange(next: LockFilterValues): void }) {
  const [draft, setDraft] = useDraftFields({ prefix: filters.prefix, owner: filters.owner });

  const applyText = () => {
    const next = { ...filters, prefix: draft.prefix || undefined, owner: draft.owner.trim() || undefined };
    if (next.prefix !== filters.prefix || next.owner !== filters.owner) onChange(next);
  };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    applyText();
  };
  const any = Boolean(filters.prefix || filters.owner || filters.mode);

  return (
    <form className={`inline-form ${styles.filters}`} onSubmit={submit} role="search" aria-label="Filter locks">
      <label className="field">
        <span>Key prefix</span>
        <input
          name="prefix"
          value={draft.prefix}
          onChange={(e) => setDraft("prefix", e.target.value)}
          onBlur={applyText}
          maxLength={512}
        />
      </label>
      <label className="field">
        <span>Holder transaction</span>
        <input
          name="owner"
          value={draft.owner}
          onChange={(e) => setDraft("owner", e.target.value)}
          onBlur={applyText}
          maxLength={200}
          placeholder="transaction id"
        />
      </label>
      <label className="field">
        <span>Mode</span>
        <select
          name="mode"
          value={filters.mode ?? ""}
          onChange={(e) => onChange({ ...filters, mode: (e.target.value || undefined) as LockMode | undefined })}
        >
          <option value="">Any mode</option>
          <option value="exclusive">exclusive</option>
          <option value="shared">shared</option>
        </select>
      </label>
      <button type="submit" className="button">
        Filter
      </button>
      {any && <Link href="/locks">Clear filters</Link>}
    </form>
  );
}
