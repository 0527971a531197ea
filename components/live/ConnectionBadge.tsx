import type { ConnectionSnapshot } from "./liveConnection";

const labels = { live: "live", reconnecting: "reconnecting…", offline: "offline" } as const;

export function ConnectionBadge({ connection }: { connection: ConnectionSnapshot }) {
  const label = connection.state === "reconnecting" && !connection.everConnected ? "connecting…" : labels[connection.state];
  return (
    <span
      className={`badge badge-${connection.state}`}
      data-testid="connection-badge"
      data-state={connection.state}
      role="status"
      title="Live updates from the transaction event stream"
    >
      <span className="badge-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
