"use client";
// The console's modal dialog: over a backdrop, labelled by its title, closed by a click on
// the backdrop or by Escape, except while its action runs (closing then would hide the answer).
import { useId, type ReactNode } from "react";

export interface DialogProps {
  title: ReactNode;
  onClose(): void;
  /** While true, neither the backdrop nor Escape closes the dialog. */
  busy?: boolean | undefined;
  /** Beside the title, e.g. a close button. */
  titleEnd?: ReactNode;
  children: ReactNode;
}

export function Dialog({ title, onClose, busy = false, titleEnd, children }: DialogProps) {
  const titleId = useId();
  return (
    <div className="dialog-backdrop" role="presentation" onClick={busy ? undefined : onClose}>
      <div
        className="dialog stack"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => {
          if (e.key === "Escape" && !busy) onClose();
        }}
      >
        <header className="dialog-head">
          <h2 id={titleId}>{title}</h2>
          {titleEnd}
        </header>
        {children}
      </div>
    </div>
  );
}
