"use client";
// Text fields of a filter bar whose applied values live in the URL (the Transactions and
// Locks lists). What is typed is a draft until the bar applies it (on Enter, or when the
// field is left); when the URL changes under the fields (the back button, a link) the drafts
// follow it. Adjusted during render, as React recommends over an effect.
import { useState } from "react";

export type Drafts<K extends string> = Record<K, string>;

/** The drafts of the given fields, seeded and reset from their applied values; undefined reads as "". */
export function useDraftFields<K extends string>(
  applied: Record<K, string | undefined>,
): [drafts: Drafts<K>, setDraft: (field: K, value: string) => void] {
  const [drafts, setDrafts] = useState(() => asDrafts(applied));
  const [seen, setSeen] = useState(applied);
  if ((Object.keys(applied) as K[]).some((field) => applied[field] !== seen[field])) {
    setSeen(applied);
    setDrafts(asDrafts(applied));
  }
  const setDraft = (field: K, value: string) => setDrafts((old) => ({ ...old, [field]: value }));
  return [drafts, setDraft];
}

function asDrafts<K extends string>(applied: Record<K, string | undefined>): Drafts<K> {
  const drafts = {} as Drafts<K>;
  for (const field of Object.keys(applied) as K[]) drafts[field] = applied[field] ?? "";
  return drafts;
}
