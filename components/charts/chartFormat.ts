// Axis and tooltip formatting and colours of the console's charts (TimeSeriesChart.tsx).

/** Local HH:MM for axis ticks. */
export function tickTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** Local HH:MM:SS for tooltips: buckets are seconds wide. */
export function tooltipTime(ms: unknown): string {
  if (typeof ms !== "number") return "";
  const d = new Date(ms);
  return d.toLocaleTimeString("en-GB", { hour12: false });
}

/** Chart colours follow the console's light and dark palettes (app/globals.css). */
export const COLORS = {
  ok: "var(--ok)",
  bad: "var(--bad)",
  accent: "var(--accent)",
  warn: "var(--warn)",
  grid: "var(--border)",
  muted: "var(--muted)",
} as const;
