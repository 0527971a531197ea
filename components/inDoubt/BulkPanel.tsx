"use client";
// Bulk resolution: count first, then apply to exactly that count. The server refuses if the
// selection changed in between, so a confirmation always means what it says.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { apiFetch } from "@/components/http/apiFetch";
import type { BulkResult } from "@/server/ops/bulk";

export function BulkPanel() {
  const queryClient = useQueryClient();
  const [shard, setShard] = useState("");
  const [decision, setDecision] = useState<"" | "COMMIT" | "ABORT" | "none">("");
  const [olderThan, setOlderThan] = useState("");
  const [action, setAction] = useState<"retry" | "force-abort">("retry");
  const [reason, setReason] = useState("");
  const [counted, setCounted] = useState<number | null>(null);
  const filter = {
    ...(shard ? { shard } : {}),
    ...(decision ? { decision } : {}),
    ...(olderThan ? { olderThanSeconds: Number(olderThan) } : {}),
  };
  const run = useMutation({
    mutationFn: (confirmCount?: number) =>
      apiFetch<BulkResult>("/api/in-doubt/bulk", {
        method: "POST",
        body: { filter, action, reason, ...(confirmCount === undefined ? {} : { confirmCount }) },
      }),
    onSuccess: (r) => {
      setCounted(r.applied ? null : r.matched);
      if (r.applied) void queryClient.invalidateQueries({ queryKey: ["in-doubt"] });
    },
  });
  const reset = () => setCounted(null);
  return (
    <section className="panel" data-testid="bulk-panel">
      <div className="panel-head">
        <h2>Bulk resolution</h2>
        <span className="panel-meta">
          retry the logged decisions, or abort the undecided, of every matching in-doubt transaction
        </span>
      </div>
      <div className="inline-form">
        <select value={action} onChange={(e) => (setAction(e.target.value as typeof action), reset())} aria-label="action">
          <option value="retry">Retry phase two (decided ones)</option>
          <option value="force-abort">Force abort (undecided ones)</option>
        </select>
        <input
          placeholder="shard (any)"
          value={shard}
          onChange={(e) => (setShard(e.target.value.trim()), reset())}
          aria-label="shard"
        />
        <select
          value={decision}
          onChange={(e) => (setDecision(e.target.value as typeof decision), reset())}
          aria-label="decision"
        >
          <option value="">any decision</option>
          <option value="COMMIT">COMMIT</option>
          <option value="ABORT">ABORT</option>
          <option value="none">no decision</option>
        </select>
        <input
          placeholder="stalled for ≥ s"
          inputMode="numeric"
          value={olderThan}
          onChange={(e) => (setOlderThan(e.target.value.replace(/\D/g, "")), reset())}
          aria-label="stalled for at least (seconds)"
        />
        <input
          placeholder="reason"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          maxLength={500}
          aria-label="reason"
        />
        {counted === null ? (
          <button
            type="button"
            className="button"
            disabled={reason.trim().length < 3 || run.isPending}
            onClick={() => run.mutate(undefined)}
          >
            Count matching
          </button>
        ) : (
          <button
            type="button"
            className="button button-danger"
            disabled={counted === 0 || run.isPending}
            onClick={() => run.mutate(counted)}
          >
            Apply to {counted} transaction{counted === 1 ? "" : "s"}
          </button>
        )}
      </div>
      {run.isError && <p className="alert">{run.error.message}</p>}
      {run.data?.applied && (
        <p className="notice" data-testid="bulk-result">
          {run.data.done} done, {run.data.already} already resolved, {run.data.refused} refused by a guard, {run.data.failed}{" "}
          failed
          {run.data.errors.length > 0 && `: ${run.data.errors.slice(0, 3).join("; ")}`}
        </p>
      )}
    </section>
  );
}
