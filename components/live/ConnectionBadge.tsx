import type { ConnectionSnapshot } from "./liveConnection";

const labels = { live: "live", stalled: "not live", reconnecting: "reconnecting…", offline: "offline" } as const;
const titles = {
  live: "Live updates from the transaction event stream",
  stalled: "Connected, but the console cannot read the event stream (Redis is unreachable): figures may be stale",
  reconnecting: "Not connected to the console: reconnecting",
  offline: "Not connected to the console",
} as const;

export function ConnectionBadge({ connection }: { connection: ConnectionSnapshot }) {
  const label = connection.state === "reconnecting" && !connection.everConnected ? "connecting…" : labels[connection.state];
  return (
    <span
      className={`badge badge-${connection.state}`}
      data-testid="connection-badge"
      data-state={connection.state}
      role="status"
      title={titles[connection.state]}
    >
      <span className="badge-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
