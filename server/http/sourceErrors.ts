// Telling "a source is down" from a bug (DESIGN.md §7): a request that fails because the
// coordinator database or Redis cannot be reached is answered 503 with the source's name,
// so the operator knows what to fix, and with Retry-After, since it will work again by itself.
// Only the name leaves this module: driver messages carry hosts, ports and user names.
import { CohortError } from "../errors";
import type { LiveSourceName } from "../live/protocol";

export type SourceName = LiveSourceName;

/** How long a client should wait before trying again (seconds): about two health probes. */
export const SOURCE_RETRY_AFTER_S = 5;

/** Socket-level failures, as pg reports them (ioredis reports them only on its "error" event). */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
/** PostgreSQL: admin/crash shutdown, cannot connect now, too many connections; class 08 is connection exceptions. */
const PG_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);
/** Prisma's codes for an unreachable server, a dropped connection, a connect or pool timeout. */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
/** Driver-adapter error kinds (Prisma's DriverAdapterError) with the same meaning. */
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const PG_MESSAGES = [
  "connection terminated",
  "timeout exceeded when trying to connect",
  "client has encountered a connection error",
  "is not currently accepting connections",
  "too many connections",
];
const REDIS_MESSAGES = ["connection is closed", "stream isn't writeable", "reached the max retries per request limit"];

/** The unreachable source behind `err`, or null when it is anything else. */
export function unreachableSource(err: unknown): SourceName | null {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): SourceName | null => {
    if (typeof value !== "object" || value === null || seen.has(value) || depth > 8) return null;
    seen.add(value);
    const e = value as { name?: unknown; code?: unknown; kind?: unknown; message?: unknown; meta?: unknown; cause?: unknown };
    const name = typeof e.name === "string" ? e.name : "";
    const code = typeof e.code === "string" ? e.code : "";
    const message = typeof e.message === "string" ? e.message.toLowerCase() : "";
    if (name === "MaxRetriesPerRequestError" || name === "ClusterAllFailedError") return "Redis";
    if (REDIS_MESSAGES.some((m) => message.startsWith(m))) return "Redis";
    if (name.startsWith("PrismaClient") && PRISMA_CODES.has(code)) return "coordinator database";
    if (typeof e.kind === "string" && ADAPTER_KINDS.has(e.kind)) return "coordinator database";
    if (SOCKET_CODES.has(code) || PG_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return "coordinator database";
    if (PG_MESSAGES.some((m) => message.includes(m))) return "coordinator database";
    const meta = e.meta as { driverAdapterError?: unknown } | undefined;
    const nested = [meta?.driverAdapterError, e.cause, ...(value instanceof AggregateError ? value.errors : [])];
    for (const inner of nested) {
      const found = visit(inner, depth + 1);
      if (found) return found;
    }
    return null;
  };
  return visit(err, 0);
}

/** SOURCE_UNAVAILABLE for an error caused by an unreachable source; null otherwise. */
export function asSourceUnavailable(err: unknown): CohortError | null {
  const source = unreachableSource(err);
  if (!source) return null;
  const subject = source === "Redis" ? "Redis" : `the ${source}`;
  return new CohortError("SOURCE_UNAVAILABLE", `${subject} is unreachable: try again when it is back`, {
    cause: err,
    details: { retryAfterSeconds: SOURCE_RETRY_AFTER_S, problem: { source } },
  });
}
