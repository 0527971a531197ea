import Link from "next/link";
import type { ShardHealth } from "@/server/stats/metrics";
import { formatDuration, formatInteger } from "@/components/transactions/format";

const TONE = { up: "tag tag-ok", stale: "tag tag-warn", down: "tag tag-bad" } as const;
const WORDS = { up: "up", stale: "not seen lately", down: "failing" } as const;

/** Shard health from the engine's reconciliation passes (shards.last_seen_at, last_error). */
export function ShardHealthPanel({ shards, at, staleSeconds }: { shards: ShardHealth[]; at: string; staleSeconds: number }) {
  const now = Date.parse(at);
  return (
    <section className="panel" aria-labelledby="shards-title" data-testid="shard-health">
      <header className="panel-head">
        <h2 id="shards-title">Shards</h2>
        <span className="muted panel-meta">reconciled by the engine; stale after {formatDuration(staleSeconds * 1000)}</span>
      </header>
      {shards.length === 0 ? (
        <p className="muted">No shards are registered yet: they appear when an engine starts.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Shard</th>
              <th>Health</th>
              <th>Last seen</th>
              <th className="num">Open branches</th>
              <th>Last error</th>
            </tr>
          </thead>
          <tbody>
            {shards.map((s) => (
              <tr key={s.name} data-testid="shard-row" data-shard={s.name} data-state={s.state}>
                <td>{s.name}</td>
                <td>
                  <span className={TONE[s.state]}>{WORDS[s.state]}</span>
                </td>
                <td>{s.lastSeenAt ? `${formatDuration(Math.max(0, now - Date.parse(s.lastSeenAt)))} ago` : "never"}</td>
                <td className="num">
                  <Link href={`/transactions?state=open&shard=${encodeURIComponent(s.name)}`}>
                    {formatInteger(s.openBranches)}
                  </Link>
                </td>
                <td className={s.lastError ? "shard-error" : "muted"}>{s.lastError ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
