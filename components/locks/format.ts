// Short, stable renderings for the Locks page. Kept pure so they are unit-tested.

/** "850 ms", "42 s", "3 min 05 s", "2 h 07 min", "3 d 4 h". */
export function formatSpan(ms: number): string {
  const v = Math.max(0, Math.round(ms));
  if (v < 1_000) return `${v} ms`;
  const s = Math.floor(v / 1_000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Time left on a lease; a lease past its end is on its way out at the next read. */
export function formatTtl(ms: number): string {
  return ms <= 0 ? "expiring" : formatSpan(ms);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Owners are transaction ids, except for locks taken outside the engine. */
export const isTxId = (owner: string) => UUID.test(owner);

/** The first group of a transaction id is enough to tell them apart on screen. */
export const shortOwner = (owner: string) => (isTxId(owner) ? `${owner.slice(0, 8)}…` : owner);
