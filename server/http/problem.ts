// RFC 9457 problem details for route handlers (DESIGN.md §7). Only errors marked
// `expose` describe themselves; anything else is logged here and answered generically,
// so internal details (SQL, connection strings) never reach the browser.
import { errorCodes, isCohortError } from "../errors";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  instance?: string;
}

const titles: Record<number, string> = {
  400: "Bad request",
  404: "Not found",
  409: "Conflict",
  500: "Internal error",
  503: "Service unavailable",
};

export function problemResponse(err: unknown, instance?: string): Response {
  const known = isCohortError(err) ? err : null;
  if (!known || !known.expose) console.error(`[api] ${instance ?? "request"} failed:`, err);
  const code = known?.expose ? known.code : "INTERNAL";
  const status = errorCodes[code].status;
  const problem: Problem = {
    type: "about:blank",
    title: titles[status] ?? "Error",
    status,
    code,
    ...(known?.expose ? { detail: known.message } : {}),
    ...(instance ? { instance } : {}),
  };
  return new Response(JSON.stringify(problem), {
    status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, "cache-control": "no-store" },
  });
}
