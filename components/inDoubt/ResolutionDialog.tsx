"use client";
// The resolution dialog: the coordinator's view and every shard's prepared-transaction state
// side by side, and only the actions the guards allow, each with a required reason. The
// server re-checks every guard; this dialog only explains them.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Dialog } from "@/components/forms/Dialog";
import { apiFetch } from "@/components/http/apiFetch";
import { ACTION_LABELS } from "./format";
import type { ActionResultPayload, ResolutionPayload } from "./types";

type Action = ResolutionPayload["actions"][number]["action"];

export function ResolutionDialog({ txId, onClose }: { txId: string; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [chosen, setChosen] = useState<Action | null>(null);
  const [reason, setReason] = useState("");
  const key = ["resolution", txId];
  const view = useQuery({ queryKey: key, queryFn: () => apiFetch<ResolutionPayload>(`/api/transactions/${txId}/resolution`) });
  const act = useMutation({
    mutationFn: (action: Action) =>
      apiFetch<ActionResultPayload>(`/api/transactions/${txId}/actions/${action}`, { method: "POST", body: { reason } }),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: key });
      void queryClient.invalidateQueries({ queryKey: ["in-doubt"] });
      void queryClient.invalidateQueries({ queryKey: ["transaction", txId] });
    },
  });

  return (
    <Dialog
      title={
        <>
          Resolve <span className="mono">{txId}</span>
        </>
      }
      onClose={onClose}
      busy={act.isPending}
      titleEnd={
        <button type="button" className="button button-quiet" onClick={onClose} aria-label="Close dialog">
          ×
        </button>
      }
    >
      {view.isPending && <p className="muted">Asking the coordinator log and every shard…</p>}
      {view.isError && <p className="alert">{view.error.message}</p>}
      {view.data && (
        <>
          <div className="side-by-side">
            <div>
              <h3>Coordinator log</h3>
              <p>
                State <strong data-testid="resolution-status">{view.data.tx.status}</strong>, decision{" "}
                <strong data-testid="resolution-decision">{view.data.tx.decision ?? "none"}</strong>
              </p>
              <table className="table">
                <thead>
                  <tr>
                    <th>Branch</th>
                    <th>State</th>
                    <th>Vote</th>
                    <th>Attempts</th>
                    <th>Last error</th>
                  </tr>
                </thead>
                <tbody>
                  {view.data.tx.branches.map((b) => (
                    <tr key={b.shard}>
                      <td>{b.shard}</td>
                      <td>{b.status}</td>
                      <td>{b.vote === null ? "—" : b.vote ? "yes" : "no"}</td>
                      <td>{b.attempts}</td>
                      <td className="muted">{b.lastError ?? ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div>
              <h3>Shards now (pg_prepared_xacts)</h3>
              <table className="table">
                <thead>
                  <tr>
                    <th>Shard</th>
                    <th>Prepared transaction</th>
                  </tr>
                </thead>
                <tbody>
                  {view.data.shards.map((s) => (
                    <tr key={s.shard} data-testid={`shard-state-${s.shard}`}>
                      <td>{s.shard}</td>
                      <td>
                        {s.state === "prepared"
                          ? "prepared (voted yes)"
                          : s.state === "absent"
                            ? "none"
                            : `unreachable: ${s.detail}`}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>

          <h3>Actions</h3>
          <ul className="action-list">
            {view.data.actions.map((a) => (
              <li key={a.action}>
                <label className={a.allowed ? "" : "muted"}>
                  <input
                    type="radio"
                    name="action"
                    value={a.action}
                    disabled={!a.allowed}
                    checked={chosen === a.action}
                    onChange={() => setChosen(a.action)}
                  />{" "}
                  {ACTION_LABELS[a.action]} — <span className="muted">{a.why}</span>
                </label>
              </li>
            ))}
          </ul>
          <label className="field">
            Reason (recorded in the audit trail and the transaction&apos;s timeline)
            <textarea value={reason} onChange={(e) => setReason(e.target.value)} rows={2} maxLength={500} name="reason" />
          </label>
          <div className="dialog-actions">
            <button
              type="button"
              className="button button-danger"
              disabled={!chosen || reason.trim().length < 3 || act.isPending}
              onClick={() => chosen && act.mutate(chosen)}
            >
              {act.isPending ? "Working…" : chosen ? ACTION_LABELS[chosen] : "Choose an action"}
            </button>
            <button type="button" className="button button-quiet" onClick={onClose}>
              Close
            </button>
          </div>
          {act.isError && (
            <p className="alert" role="alert">
              {act.error.message}
            </p>
          )}
          {act.data && (
            <p className="notice" role="status" data-testid="resolution-result">
              {act.data.outcome === "done" ? "Done" : "Nothing to do"}: {act.data.message}. Now {act.data.after.status}.
            </p>
          )}
        </>
      )}
    </Dialog>
  );
}
