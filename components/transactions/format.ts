// Formatting shared by the transaction pages and the Overview. Deterministic (fixed
// locale, no "now") so server-rendered and hydrated markup agree; times of day are local
// and rendered with suppressHydrationWarning where they appear.

/** "850 ms", "4.2 s", "3 min 5 s", "2 h 10 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  const abs = Math.max(0, ms);
  if (abs < 1_000) return `${Math.round(abs)} ms`;
  if (abs < 10_000) return `${(abs / 1_000).toFixed(1)} s`;
  const s = Math.floor(abs / 1_000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** Local time of day with milliseconds: 2PC steps are milliseconds apart. */
export function formatTimeOfDay(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Local date and time, to the second. */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatTimeOfDay(iso)}`;
}

/** Compact per-second rates: "0", "0.3", "12.5", "1,234". */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return "0";
  if (perSecond < 100) return perSecond.toFixed(1).replace(/\.0$/, "");
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }).format(perSecond);
}

export function formatInteger(n: number): string {
  return new Intl.NumberFormat("en-US").format(n);
}
