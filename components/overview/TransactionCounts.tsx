"use client";

import { useQuery } from "@tanstack/react-query";
import { ConnectionBadge } from "@/components/live/ConnectionBadge";
import { useLiveSocket } from "@/components/live/useLiveSocket";
import { useThrottledInvalidate } from "@/components/live/useThrottledInvalidate";
import { TRANSACTIONS_ROOM } from "@/server/live/protocol";
import type { FinishedCount, OpenTxStatus, TransactionCounts as Counts } from "@/server/stats/transactionCounts";

export const TRANSACTION_COUNTS_KEY = ["stats", "transactions"] as const;

const ROOMS = [TRANSACTIONS_ROOM];
/** Each count is one SQL statement; a busy stream must not turn into a request per event. */
const INVALIDATE_EVERY_MS = 500;
/** The 5-minute window slides even when nothing happens, and polling covers a dead socket. */
const REFETCH_LIVE_MS = 15_000;
const REFETCH_DISCONNECTED_MS = 3_000;

const OPEN_STATES: { status: OpenTxStatus; label: string; hint: string }[] = [
  { status: "ACTIVE", label: "Active", hint: "running" },
  { status: "PREPARING", label: "Preparing", hint: "collecting votes" },
  { status: "COMMITTING", label: "Committing", hint: "commit decided" },
  { status: "ABORTING", label: "Aborting", hint: "abort decided" },
];

// A fixed locale keeps the server-rendered and hydrated markup identical.
const integer = new Intl.NumberFormat("en-US");

async function fetchCounts({ signal }: { signal: AbortSignal }): Promise<Counts> {
  const res = await fetch("/api/stats/transactions", { signal, cache: "no-store", headers: { accept: "application/json" } });
  if (!res.ok) {
    const problem = (await res.json().catch(() => null)) as { detail?: string; title?: string } | null;
    throw new Error(problem?.detail ?? problem?.title ?? `HTTP ${res.status}`);
  }
  return (await res.json()) as Counts;
}

export function TransactionCounts({ initialCounts }: { initialCounts?: Counts | undefined }) {
  const invalidate = useThrottledInvalidate(TRANSACTION_COUNTS_KEY, INVALIDATE_EVERY_MS);
  const connection = useLiveSocket({ rooms: ROOMS, onTxEvents: invalidate, onResync: invalidate });
  const { data, error } = useQuery({
    queryKey: TRANSACTION_COUNTS_KEY,
    queryFn: fetchCounts,
    initialData: initialCounts,
    initialDataUpdatedAt: initialCounts ? Date.parse(initialCounts.at) : undefined,
    refetchInterval: connection.state === "live" ? REFETCH_LIVE_MS : REFETCH_DISCONNECTED_MS,
  });
  const windowMinutes = Math.round((data?.windowSeconds ?? 300) / 60);

  return (
    <section className="panel" aria-labelledby="tx-counts-title">
      <header className="panel-head">
        <h2 id="tx-counts-title">Transactions</h2>
        <ConnectionBadge connection={connection} />
        {data && (
          <span className="muted panel-meta">
            as of{" "}
            <time dateTime={data.at} suppressHydrationWarning>
              {new Date(data.at).toLocaleTimeString()}
            </time>
          </span>
        )}
      </header>
      {error && (
        <p className="alert" role="alert">
          Could not load counts: {error.message}
          {data ? " (showing the last known values)" : ""}
        </p>
      )}
      <div className="stat-grid" aria-busy={!data}>
        {OPEN_STATES.map(({ status, label, hint }) => (
          <div key={status} className="stat" data-testid={`count-${status.toLowerCase()}`}>
            <div className="stat-label">{label}</div>
            <div className="stat-value" data-testid={`count-${status.toLowerCase()}-value`}>
              {data ? integer.format(data.open[status]) : "–"}
            </div>
            <div className="stat-hint">{hint}</div>
          </div>
        ))}
        <FinishedStat
          name="committed"
          label="Committed"
          tone="ok"
          count={data?.finished.COMMITTED}
          windowMinutes={windowMinutes}
        />
        <FinishedStat name="aborted" label="Aborted" tone="bad" count={data?.finished.ABORTED} windowMinutes={windowMinutes} />
      </div>
    </section>
  );
}

function FinishedStat(props: {
  name: string;
  label: string;
  tone: "ok" | "bad";
  count: FinishedCount | undefined;
  windowMinutes: number;
}) {
  const { name, label, tone, count, windowMinutes } = props;
  return (
    <div className={`stat stat-${tone}`} data-testid={`count-${name}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={`count-${name}-recent`} title={`${label} in the last ${windowMinutes} minutes`}>
        {count ? integer.format(count.recent) : "–"}
      </div>
      <div className="stat-hint">
        last {windowMinutes} min · <span data-testid={`count-${name}-total`}>{count ? integer.format(count.total) : "–"}</span>{" "}
        total
      </div>
    </div>
  );
}
