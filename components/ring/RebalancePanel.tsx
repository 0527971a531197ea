"use client";
// The current (or last) rebalance: a progress bar with live counts, and for admins cancel
// and resume. Below, the recent runs.
import { useState } from "react";
import { ReasonDialog } from "@/components/forms/ReasonDialog";
import { count } from "./format";
import styles from "./ring.module.css";
import type { RunView } from "./types";

const STATUS_TAG: Record<RunView["status"], string> = {
  RUNNING: "tag",
  CANCELLED: "tag tag-warn",
  FAILED: "tag tag-bad",
  DONE: "tag tag-ok",
};

export interface RebalancePanelProps {
  run: RunView | null;
  runs: RunView[];
  canAdmin: boolean;
  onAction: (run: RunView, action: "cancel" | "resume", reason: string) => Promise<unknown>;
}

export function RebalancePanel({ run, runs, canAdmin, onAction }: RebalancePanelProps) {
  const [acting, setActing] = useState<"cancel" | "resume" | null>(null);
  return (
    <section className="panel" data-testid="rebalance-panel">
      <div className="panel-head">
        <h2>Rebalance</h2>
        {run && (
          <span className="panel-meta">
            run {run.id.slice(0, 8)}… · version {run.fromVersion} → {run.toVersion}
          </span>
        )}
      </div>
      {!run ? (
        <p className="muted">No rebalance has run yet: the ring is as the engine first made it.</p>
      ) : (
        <RunProgress run={run} />
      )}
      {run && canAdmin && (run.status === "RUNNING" || run.status === "CANCELLED" || run.status === "FAILED") && (
        <div className="dialog-actions">
          {run.status === "RUNNING" ? (
            <button
              type="button"
              className="button button-danger"
              onClick={() => setActing("cancel")}
              data-testid="cancel-rebalance"
            >
              Cancel…
            </button>
          ) : (
            <button type="button" className="button" onClick={() => setActing("resume")} data-testid="resume-rebalance">
              Resume…
            </button>
          )}
        </div>
      )}
      {runs.length > 1 && (
        <details>
          <summary className="muted">Recent runs</summary>
          <table className="table">
            <thead>
              <tr>
                <th>Started</th>
                <th>Versions</th>
                <th>Status</th>
                <th>Moved</th>
                <th>By</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id}>
                  <td>{new Date(r.createdAt).toLocaleString()}</td>
                  <td>
                    {r.fromVersion} → {r.toVersion}
                  </td>
                  <td>
                    <span className={STATUS_TAG[r.status]}>{r.status.toLowerCase()}</span>
                  </td>
                  <td>
                    {count(r.moved)} / {count(r.total)}
                  </td>
                  <td>{r.createdBy}</td>
                  <td>{r.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      {acting && run && (
        <ReasonDialog
          title={acting === "cancel" ? "Cancel the rebalance" : "Resume the rebalance"}
          confirmLabel={acting === "cancel" ? "Cancel rebalance" : "Resume rebalance"}
          danger={acting === "cancel"}
          onConfirm={(reason) => onAction(run, acting, reason)}
          onClose={() => setActing(null)}
        >
          <p>
            {acting === "cancel"
              ? "Stops after the account being moved. Routing stays split at the cursor, which is correct for as long as needed; no other ring change is possible until the run is resumed to the end."
              : "Continues from the cursor, moving the remaining accounts."}
          </p>
        </ReasonDialog>
      )}
    </section>
  );
}

function RunProgress({ run }: { run: RunView }) {
  const done = run.moved + run.skipped;
  const fraction = run.status === "DONE" ? 1 : run.total ? Math.min(1, done / run.total) : 0;
  const fill = run.status === "DONE" ? styles.progressDone : run.status === "RUNNING" ? "" : styles.progressStopped;
  return (
    <>
      <p>
        <span className={STATUS_TAG[run.status]} data-testid="rebalance-status">
          {run.status.toLowerCase()}
        </span>{" "}
        {run.status === "RUNNING" && !run.executing && <span className="muted">waiting for an executor</span>}{" "}
        <span className="muted">
          by {run.createdBy}: {run.reason}
        </span>
      </p>
      <div
        className={styles.progress}
        role="progressbar"
        aria-label="Rebalance progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
        data-testid="rebalance-progress"
      >
        <div className={`${styles.progressFill} ${fill}`} style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
      </div>
      <p data-testid="rebalance-counts">
        <strong>{count(run.moved)}</strong> moved · <strong>{count(run.skipped)}</strong> already there · of{" "}
        <strong>{run.total === null ? "(counting)" : count(run.total)}</strong>
        {run.cursor !== null && <span className="muted"> · cursor at account {run.cursor}</span>}
      </p>
      {run.statusBy && (
        <p className="muted">
          {run.status === "CANCELLED" ? "Cancelled" : "Last changed"} by {run.statusBy}: {run.statusNote}
        </p>
      )}
      {run.lastError && (
        <p className="alert" role="alert">
          {run.lastError}
        </p>
      )}
    </>
  );
}
