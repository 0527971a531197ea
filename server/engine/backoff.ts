/**
 * Capped exponential backoff before retry number `attempt + 1`: base·2^attempt, at most
 * `maxMs`. Deterministic: the phase-2 queue recomputes it from a delivery count and an idle
 * time that Redis keeps, so it has nowhere to store a random draw.
 */
export function exponentialBackoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
}

/** Exponential backoff with full jitter (AWS architecture blog), capped, never below the base. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.max(baseMs, Math.floor(exponentialBackoff(attempt, baseMs, maxMs) * random()));
}
