"use client";
// Operator actions on one transaction. The guards (server/ops/guards.ts) decide what is
// offered and say why the rest is not; the server re-checks them with a compare-and-set
// when the operator confirms, and a refusal (409) is shown in the dialog as the server
// worded it. Viewers never see this panel.
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ReasonDialog } from "@/components/forms/ReasonDialog";
import { apiFetch } from "@/components/http/apiFetch";
import type { ActionName, ActionOption } from "@/server/ops/guards";

const ACTIONS: Record<ActionName, { label: string; danger: boolean; explain: string }> = {
  retry: {
    label: "Retry phase two now",
    danger: false,
    explain: "Delivers the logged decision to every unresolved branch now instead of waiting for the next retry.",
  },
  "force-abort": {
    label: "Force abort",
    danger: true,
    explain: "Logs an ABORT decision (only if no decision exists yet) and rolls back every prepared branch.",
  },
  "force-commit": {
    label: "Force commit",
    danger: true,
    explain: "Logs a COMMIT decision exactly as the engine would (only if every branch voted yes and no decision exists).",
  },
};

interface ActionResponse {
  outcome: "done" | "already";
  message: string;
}

export function TransactionActions({
  txId,
  actions,
  queryKey,
}: {
  txId: string;
  actions: ActionOption[];
  queryKey: readonly unknown[];
}) {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState<ActionName | null>(null);
  const [result, setResult] = useState<string | null>(null);

  const run = async (action: ActionName, reason: string) => {
    try {
      const response = await apiFetch<ActionResponse>(`/api/transactions/${txId}/actions/${action}`, {
        method: "POST",
        body: { reason },
      });
      setResult(response.message);
    } finally {
      // Refused or not, the transaction may have moved: show what the log says now.
      await queryClient.invalidateQueries({ queryKey });
    }
  };

  return (
    <section className="panel" aria-labelledby="tx-actions-title" data-testid="tx-actions">
      <header className="panel-head">
        <h2 id="tx-actions-title">Actions</h2>
      </header>
      {result && (
        <p className="notice" role="status" data-testid="tx-action-result">
          {result}
        </p>
      )}
      <ul className="action-list">
        {actions.map((option) => (
          <li key={option.action} className="tx-action">
            <button
              type="button"
              className={ACTIONS[option.action].danger ? "button button-danger" : "button"}
              disabled={!option.allowed}
              aria-describedby={`tx-action-why-${option.action}`}
              onClick={() => {
                setResult(null);
                setOpen(option.action);
              }}
              data-testid={`tx-action-${option.action}`}
            >
              {ACTIONS[option.action].label}
            </button>
            <span id={`tx-action-why-${option.action}`} className="muted">
              {option.why}
            </span>
          </li>
        ))}
      </ul>
      {open && (
        <ReasonDialog
          title={`${ACTIONS[open].label}?`}
          confirmLabel={ACTIONS[open].label}
          danger={ACTIONS[open].danger}
          onConfirm={(reason) => run(open, reason)}
          onClose={() => setOpen(null)}
        >
          <p>
            {ACTIONS[open].explain} Transaction <span className="mono">{txId}</span>.
          </p>
        </ReasonDialog>
      )}
    </section>
  );
}
