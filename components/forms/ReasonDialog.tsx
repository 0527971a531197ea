"use client";
// Asks for the reason every audited action needs (DESIGN.md §7), then runs the action and
// shows the server's answer in place: the dialog stays open on failure so nothing is lost.
import { useState, type FormEvent, type ReactNode } from "react";
import { isApiError } from "@/components/http/apiFetch";
import { Dialog } from "./Dialog";

export interface ReasonDialogProps {
  title: string;
  /** What will happen, in words. */
  children?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: (reason: string) => Promise<unknown>;
  onClose: () => void;
}

export function ReasonDialog({ title, children, confirmLabel, danger, onConfirm, onClose }: ReasonDialogProps) {
  const [reason, setReason] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [reasonError, setReasonError] = useState<string | null>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    setReasonError(null);
    try {
      await onConfirm(reason);
      onClose();
    } catch (err) {
      setPending(false);
      if (isApiError(err) && err.fieldErrors.reason) setReasonError(err.fieldErrors.reason);
      else setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <Dialog title={title} onClose={onClose} busy={pending}>
      <form className="stack" onSubmit={(e) => void submit(e)}>
        {children}
        <label className="field">
          <span>Reason (recorded in the audit trail)</span>
          <input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} autoFocus required />
          {reasonError && <span className="field-error">{reasonError}</span>}
        </label>
        {error && (
          <p className="alert" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button
            type="submit"
            className={danger ? "button button-danger" : "button"}
            disabled={pending || reason.trim().length < 3}
          >
            {pending ? "Working…" : confirmLabel}
          </button>
          <button type="button" className="button button-quiet" onClick={onClose} disabled={pending}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
