// What the console knows about its sources (DESIGN.md §6, §7): a cheap probe of the
// coordinator database and Redis every couple of seconds, so every page can say which one
// is down and since when instead of looking live while showing nothing. Each change is
// logged once (not once per retry) and handed to onChange, which pushes it to browsers.
import type { Redis } from "ioredis";
import pg from "pg";
import { errorMessage } from "../errors";
import type { SourceName } from "../http/sourceErrors";
import type { LiveSourceHealth, LiveSourceState } from "../live/protocol";

export type SourceState = LiveSourceState;
export type SourceHealth = LiveSourceHealth;

export interface SourceHealthOptions {
  /** The coordinator database's pool: probed on a one-connection pool with its settings. */
  pool: pg.Pool;
  /** Probed on a connection of its own that fails at once while disconnected. */
  redis: Redis;
  log: (line: string) => void;
  onChange?: (health: SourceHealth) => void;
  intervalMs?: number;
  /** A probe slower than this counts as down (a black-holed host never refuses). */
  timeoutMs?: number;
}

export interface SourceHealthMonitor {
  current(): SourceHealth;
  /** Probes now (tests, and the first round at start). */
  probe(): Promise<SourceHealth>;
  stop(): void;
}

const DEFAULT_INTERVAL_MS = 2_000;
const DEFAULT_TIMEOUT_MS = 1_500;

export function startSourceHealth(opts: SourceHealthOptions): SourceHealthMonitor {
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Its own connection: probes must not queue behind the shared client's commands, nor retry
  // across reconnects as they do. A probe waits for a connection being made, not for retries.
  const redis = opts.redis.duplicate({
    maxRetriesPerRequest: 0,
    enableAutoPipelining: false,
    lazyConnect: false,
  });
  // The probe reports an outage once, with the connection's own error as the cause.
  let lastRedisError: unknown = null;
  redis.on("error", (err: unknown) => (lastRedisError = err));
  // Likewise for the database: a busy shared pool (the engine's) must not look like an outage.
  const pool = new pg.Pool({
    ...opts.pool.options,
    max: 1,
    connectionTimeoutMillis: timeoutMs,
    application_name: "cohort-console-health",
  });
  pool.on("error", () => undefined); // a dropped idle connection is replaced by the next probe
  const started = new Date().toISOString();
  const states = new Map<SourceName, SourceState>([
    ["coordinator database", { source: "coordinator database", up: true, since: started }],
    ["Redis", { source: "Redis", up: true, since: started }],
  ]);
  let checkedAt = started;
  let inFlight: Promise<SourceHealth> | null = null;
  let stopped = false;

  const snapshot = (): SourceHealth => ({ sources: [...states.values()].map((s) => ({ ...s })), checkedAt });

  const record = (source: SourceName, result: PromiseSettledResult<unknown>): boolean => {
    const state = states.get(source)!;
    const up = result.status === "fulfilled";
    if (up === state.up) return false;
    const now = new Date();
    if (up) {
      const seconds = Math.round((now.getTime() - Date.parse(state.since)) / 1000);
      opts.log(`[console] ${source} reachable again after ${seconds} s`);
    } else {
      const cause = source === "Redis" && lastRedisError ? lastRedisError : result.reason;
      opts.log(`[console] ${source} unreachable: ${describeCause(cause)}`);
    }
    states.set(source, { source, up, since: now.toISOString() });
    return true;
  };

  const probe = (): Promise<SourceHealth> =>
    (inFlight ??= (async () => {
      try {
        const [db, kv] = await Promise.allSettled([
          withTimeout(pool.query("SELECT 1"), timeoutMs),
          withTimeout(redis.ping(), timeoutMs),
        ]);
        checkedAt = new Date().toISOString();
        if (stopped) return snapshot();
        const changed = [record("coordinator database", db), record("Redis", kv)].some(Boolean);
        const health = snapshot();
        if (changed) opts.onChange?.(health);
        return health;
      } finally {
        inFlight = null;
      }
    })());

  const timer = setInterval(() => void probe(), intervalMs);
  timer.unref();
  void probe();

  return {
    current: snapshot,
    probe,
    stop: () => {
      stopped = true;
      clearInterval(timer);
      redis.disconnect();
      void pool.end().catch(() => undefined);
    },
  };
}

/** A short cause for the log: the driver's code and first line, which name no credentials. */
function describeCause(err: unknown): string {
  const code = typeof (err as { code?: unknown })?.code === "string" ? (err as { code: string }).code : null;
  const message = errorMessage(err).split("\n")[0]!.slice(0, 200);
  return `${code && !message.includes(code) ? `${code}: ` : ""}${message}`;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  // A probe that loses the race must not become an unhandled rejection later.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

// The monitor of this process, for route handlers (Next.js bundles them apart from the
// console server, so a module-level variable would not be shared: see server/runtime.ts).
const KEY = Symbol.for("cohort.console.sourceHealth");
type Holder = { [KEY]?: SourceHealthMonitor | null };

export function setSourceHealthMonitor(monitor: SourceHealthMonitor | null): void {
  (globalThis as Holder)[KEY] = monitor;
}

export function getSourceHealthMonitor(): SourceHealthMonitor | null {
  return (globalThis as Holder)[KEY] ?? null;
}
