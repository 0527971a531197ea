export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} d`;
}

export const ACTION_LABELS = {
  retry: "Retry phase two now",
  "force-abort": "Force abort",
  "force-commit": "Force commit",
} as const;
