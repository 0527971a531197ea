"use client";
// The console's banner for sources it cannot reach (issue 10): every page says which one is
// down and since when, instead of looking live while showing nothing.
import { isApiError } from "@/components/http/apiFetch";
import { useLiveSocket } from "./useLiveSocket";
import { useSourceHealth } from "./useSourceHealth";

const NO_ROOMS: readonly string[] = [];

const CONSEQUENCES: Record<string, string> = {
  Redis: "live updates, locks and queue figures cannot be read; what you see may be stale",
  "coordinator database": "transactions, the audit trail and sign-in cannot be read or changed",
};

interface Outage {
  source: string;
  since: string | null;
}

/**
 * `live`: the page is signed in, so the banner follows the socket's pushes; otherwise (the
 * sign-in page, a page whose session check failed) it only polls, and opens no socket.
 */
export function SourceBanner({ live }: { live: boolean }) {
  return live ? <LiveSourceBanner /> : <PolledSourceBanner />;
}

function PolledSourceBanner() {
  return <Banner health={useSourceHealth(false)} />;
}

function LiveSourceBanner() {
  const connection = useLiveSocket({ rooms: NO_ROOMS });
  return <Banner health={useSourceHealth(connection.state === "live" || connection.state === "stalled")} />;
}

function Banner({ health }: { health: ReturnType<typeof useSourceHealth> }) {
  const outages: Outage[] = (health.data?.sources ?? []).filter((s) => !s.up).map((s) => ({ source: s.source, since: s.since }));
  const error = health.error;
  // While the database is down the health request itself is refused with its name.
  if (isApiError(error, "SOURCE_UNAVAILABLE") && error.source && !outages.some((o) => o.source === error.source)) {
    outages.push({ source: error.source, since: null });
  }
  const consoleDown = isApiError(error) && error.status === 0;
  if (outages.length === 0 && !consoleDown) return null;
  return (
    <div className="source-banner" role="alert" data-testid="source-banner">
      {outages.map((o) => (
        <p key={o.source} data-testid="source-down" data-source={o.source}>
          <strong>
            {o.source.charAt(0).toUpperCase() + o.source.slice(1)} unreachable
            {o.since && (
              <>
                {" "}
                since{" "}
                <time dateTime={o.since} suppressHydrationWarning>
                  {new Date(o.since).toLocaleTimeString(undefined, { hourCycle: "h23" })}
                </time>
              </>
            )}
          </strong>
          : {CONSEQUENCES[o.source] ?? "its data cannot be read"}. The console keeps trying.
        </p>
      ))}
      {consoleDown && (
        <p data-testid="console-down">
          <strong>The console server is not answering</strong>: {error.message}
        </p>
      )}
    </div>
  );
}
