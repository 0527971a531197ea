"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { apiFetch } from "@/components/http/apiFetch";
import type { OrphanPrepared } from "./types";

/** Prepared transactions with Cohort's gid prefix that the log does not know: presumed abort. */
export function OrphansPanel({
  orphans,
  shardErrors,
  canAct,
}: {
  orphans: OrphanPrepared[];
  shardErrors: string[];
  canAct: boolean;
}) {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const reconcile = useMutation({
    mutationFn: (shard: string) =>
      apiFetch<{ rolledBack: number; committed: number }>(`/api/shards/${shard}/reconcile`, { method: "POST", body: { reason } }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["in-doubt"] }),
  });
  const shards = [...new Set(orphans.map((o) => o.shard))];
  return (
    <section className="panel" data-testid="orphans-panel">
      <div className="panel-head">
        <h2>Orphan prepared transactions</h2>
        <span className="panel-meta">on a shard with no record in the coordinator log; reconciliation rolls them back</span>
      </div>
      {shardErrors.map((e) => (
        <p key={e} className="alert">
          Could not read a shard: {e}
        </p>
      ))}
      {orphans.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <>
          <table className="table">
            <thead>
              <tr>
                <th>Shard</th>
                <th>gid</th>
                <th>Prepared at</th>
                <th>Resolution</th>
              </tr>
            </thead>
            <tbody>
              {orphans.map((o) => (
                <tr key={`${o.shard}-${o.gid}`}>
                  <td>{o.shard}</td>
                  <td className="mono">{o.gid}</td>
                  <td>{new Date(o.preparedAt).toLocaleString()}</td>
                  <td>{o.resolution}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {canAct && (
            <div className="inline-form">
              <input placeholder="reason" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
              {shards.map((s) => (
                <button
                  key={s}
                  type="button"
                  className="button"
                  disabled={reason.trim().length < 3 || reconcile.isPending}
                  onClick={() => reconcile.mutate(s)}
                >
                  Reconcile {s} now
                </button>
              ))}
              {reconcile.isError && <span className="alert">{reconcile.error.message}</span>}
              {reconcile.data && (
                <span className="notice">
                  rolled back {reconcile.data.rolledBack}, committed {reconcile.data.committed}
                </span>
              )}
            </div>
          )}
        </>
      )}
    </section>
  );
}
