// One error class with a closed set of codes (DESIGN.md §8). `expose` separates what a
// caller or user may read from internal failures, which are logged and reported generically.

export const errorCodes = {
  // engine misuse and outcomes
  UNKNOWN_SHARD: { status: 400, expose: true },
  TX_NOT_ACTIVE: { status: 409, expose: true },
  TX_ABORTED: { status: 409, expose: true },
  TX_TIMED_OUT: { status: 409, expose: true },
  BRANCH_FAILED: { status: 409, expose: true },
  VOTED_NO: { status: 409, expose: true },
  DECISION_CONFLICT: { status: 409, expose: true },
  ENGINE_STOPPED: { status: 503, expose: true },
  /**
   * The transaction may have committed and the coordinator log could not be read to say
   * so: ask again later (engine.outcome). Never retry the work: it may have happened.
   */
  OUTCOME_PENDING: { status: 503, expose: true },
  /**
   * A source the request needs (the coordinator database, Redis) cannot be reached right now.
   * Exposed with the source's name only (details.source), never its URL or credentials.
   */
  SOURCE_UNAVAILABLE: { status: 503, expose: true },
  // locks (server/locks)
  LOCK_TIMEOUT: { status: 409, expose: true },
  LOCK_LOST: { status: 409, expose: true },
  STALE_TOKEN: { status: 409, expose: true },
  DEADLOCK_VICTIM: { status: 409, expose: true },
  // ring: a stale expected version, or a change while a rebalance is unfinished
  RING_CONFLICT: { status: 409, expose: true },
  // API input
  BAD_REQUEST: { status: 400, expose: true },
  NOT_FOUND: { status: 404, expose: true },
  // console security (server/auth, server/http/api.ts)
  UNAUTHENTICATED: { status: 401, expose: true },
  FORBIDDEN: { status: 403, expose: true },
  /** Origin or x-csrf-token check failed: a distinct code so the browser can refresh its token. */
  CSRF_FAILED: { status: 403, expose: true },
  /** A request the current state does not allow (name taken, an admin demoting themself). */
  CONFLICT: { status: 409, expose: true },
  PAYLOAD_TOO_LARGE: { status: 413, expose: true },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, expose: true },
  RATE_LIMITED: { status: 429, expose: true },
  // anything else
  INTERNAL: { status: 500, expose: false },
} as const;

export type ErrorCode = keyof typeof errorCodes;

/**
 * Marks CohortErrors across copies of this module. Next.js bundles route handlers apart from
 * server/main.ts, so an error thrown by a runtime object (the engine, the lock service) is an
 * instance of *another* CohortError class there; a registry symbol is the same in both.
 */
const BRAND = Symbol.for("cohort.error");

export class CohortError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "CohortError";
    this.code = code;
    this.details = opts.details;
    Object.defineProperty(this, BRAND, { value: true });
  }

  get status(): number {
    return errorCodes[this.code].status;
  }

  get expose(): boolean {
    return errorCodes[this.code].expose;
  }
}

/**
 * Recognises a CohortError by its brand and a known code, not by class identity (see BRAND).
 * `status` and `expose` are read from this module's table, so a copy from another bundle
 * answers like one made here.
 */
export function isCohortError(err: unknown, code?: ErrorCode): err is CohortError {
  if (typeof err !== "object" || err === null) return false;
  if ((err as { [BRAND]?: unknown })[BRAND] !== true) return false;
  const actual = (err as { code?: unknown }).code;
  if (typeof actual !== "string" || !Object.hasOwn(errorCodes, actual)) return false;
  return code === undefined || actual === code;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
