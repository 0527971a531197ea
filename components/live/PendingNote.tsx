// What a panel shows while its first fetch has not succeeded: "Loading…", or, once an
// attempt has failed, why (a source down, the console not answering) instead of loading
// forever while the retries go on.
import type { UseQueryResult } from "@tanstack/react-query";

export function PendingNote({
  query,
  what,
  loading = "Loading…",
}: {
  query: UseQueryResult<unknown>;
  what: string;
  loading?: string;
}) {
  const failure = query.error ?? query.failureReason;
  if (!failure) return <p className="muted">{loading}</p>;
  return (
    <p className="alert" role="alert" data-testid="load-failed">
      Could not load {what}: {failure.message}
      {query.isFetching ? " (trying again…)" : ""}
    </p>
  );
}
