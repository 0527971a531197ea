// Renders an audit entry's before/after snapshots as short "key: old → new" lines. Entries
// come from many actions with different snapshot shapes, so this knows none of them.

export function describeChange(before: unknown, after: unknown): string[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (changed.length === 0) return keys.map((k) => `${k}: ${show(after[k])} (unchanged)`);
    return changed.map((k) => `${k}: ${show(before[k])} → ${show(after[k])}`);
  }
  if ((before === null || before === undefined) && isRecord(after)) {
    return Object.entries(after).map(([k, v]) => `${k}: ${show(v)}`);
  }
  if (before === null && after === null) return [];
  return [`${show(before)} → ${show(after)}`];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  if (value === undefined || value === null) return "—";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
