// RFC 9457 problem details for route handlers (DESIGN.md §7). Only errors marked
// `expose` describe themselves; anything else is logged here and answered generically,
// so internal details (SQL, connection strings) never reach the browser. An exposed error
// may add members of its own (RFC 9457 extensions) under `details.problem`: what the
// operator needs next, such as who holds a lock now.
import { errorCodes, isCohortError, type CohortError } from "../errors";
import { asSourceUnavailable } from "./sourceErrors";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** One rejected input field; `field` is a dotted path ("" for the value as a whole). */
export interface FieldError {
  in: "body" | "query" | "params";
  field: string;
  detail: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  instance?: string;
  /** Per-field validation errors (400). */
  errors?: FieldError[];
  /** Seconds until a rate-limited request may be retried (429); also sent as Retry-After. */
  retryAfter?: number;
}

const titles: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  409: "Conflict",
  413: "Content too large",
  415: "Unsupported media type",
  429: "Too many requests",
  500: "Internal error",
  503: "Service unavailable",
};

export function problemResponse(err: unknown, instance?: string): Response {
  const known = describable(err);
  if (!known) console.error(`[api] ${instance ?? "request"} failed:`, err);
  const code = known ? known.code : "INTERNAL";
  const status = errorCodes[code].status;
  // Only these detail keys are public: `details` may otherwise carry internal context.
  const errors = known ? fieldErrorsOf(known.details) : undefined;
  const retryAfter = known ? retryAfterOf(known.details) : undefined;
  const extensions = known ? extensionsOf(known.details) : {};
  // Extensions first: they can never replace a standard member.
  const problem: Problem & Record<string, unknown> = {
    ...extensions,
    type: "about:blank",
    title: titles[status] ?? "Error",
    status,
    code,
    ...(known ? { detail: known.message } : {}),
    ...(instance ? { instance } : {}),
    ...(errors ? { errors } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  };
  const headers: Record<string, string> = { "content-type": PROBLEM_CONTENT_TYPE, "cache-control": "no-store" };
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
  return new Response(JSON.stringify(problem), { status, headers });
}

/**
 * The error to describe to the caller, or null for an internal one. Exposure is read from this
 * module's table, not the error's own getter: it may be a copy from another bundle. An
 * unreachable source is described (503, its name) even when it surfaces as a driver error or
 * as the cause of an internal one.
 */
function describable(err: unknown): CohortError | null {
  if (isCohortError(err) && errorCodes[err.code].expose) return err;
  return asSourceUnavailable(err);
}

function extensionsOf(details: Record<string, unknown> | undefined): Record<string, unknown> {
  const extensions = details?.problem;
  return extensions && typeof extensions === "object" && !Array.isArray(extensions)
    ? (extensions as Record<string, unknown>)
    : {};
}

function fieldErrorsOf(details: Record<string, unknown> | undefined): FieldError[] | undefined {
  const errors = details?.errors;
  return Array.isArray(errors) ? (errors as FieldError[]) : undefined;
}

function retryAfterOf(details: Record<string, unknown> | undefined): number | undefined {
  const value = details?.retryAfterSeconds;
  return typeof value === "number" && Number.isFinite(value) ? Math.max(1, Math.ceil(value)) : undefined;
}
