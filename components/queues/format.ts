// Display helpers of the Queues page. Phase-2 entries are recognised here without the
// server's zod schema (which the browser bundle does not need): a uuid in `tx` is enough to
// link the transaction, and the shard and decision are shown as they are.
import { formatDuration, formatInteger } from "@/components/transactions/format";

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? "—" : formatInteger(n);
}

/** An idle time or age in ms; "—" when there is none. */
export function age(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "—" : formatDuration(ms);
}

/** Local HH:MM:SS: the series covers minutes, one point a second. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local date and time of an epoch ms. */
export function dateTime(ms: number): string {
  if (!ms) return "—";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Phase2Fields {
  tx: string;
  shard: string;
  decision: string;
  label: string;
}

/** The phase-2 job an entry stands for, or null for any other entry. */
export function phase2Fields(fields: Record<string, string> | null): Phase2Fields | null {
  if (!fields || !UUID.test(fields.tx ?? "")) return null;
  return { tx: fields.tx!, shard: fields.shard ?? "", decision: fields.decision ?? "", label: fields.label ?? "" };
}

/** "key=value key=value", shortened: a table cell, with the full text in its title. */
export function fieldsText(fields: Record<string, string> | null, max = 120): string {
  if (!fields) return "";
  const text = Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export const KIND_LABELS = { phase2: "phase-2 delivery", outbox: "outbox", other: "other" } as const;
