"use client";
// Releasing a stuck lock (DESIGN.md §3). The dialog first reads the lock again: the release
// is a compare-and-delete against the token shown here, and a holder whose prepared branch
// still holds its rows in PostgreSQL is not released at all; the operator is sent to the
// transaction instead. The server checks both again; this only explains them up front.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import type { ReactNode } from "react";
import { Dialog } from "@/components/forms/Dialog";
import { ReasonDialog } from "@/components/forms/ReasonDialog";
import { apiFetch } from "@/components/http/apiFetch";
import type { LockRow, ReleaseResult } from "@/server/ops/locks";
import { formatSpan, formatTtl } from "./format";
import { HolderCell } from "./HolderCell";
import styles from "./locks.module.css";
import { fetchLockDetail, lockDetailKey, LOCKS_KEY } from "./queries";
import { useRedisNow } from "./useRedisNow";

export interface ReleaseDialogProps {
  lock: LockRow;
  onClose(): void;
  onReleased(result: ReleaseResult): void;
}

export function ReleaseDialog({ lock, onClose, onReleased }: ReleaseDialogProps) {
  const queryClient = useQueryClient();
  const detail = useQuery({ queryKey: lockDetailKey(lock.key), queryFn: ({ signal }) => fetchLockDetail(lock.key, signal) });
  const now = useRedisNow(detail.data?.now, detail.dataUpdatedAt);

  if (detail.isPending) return <Frame onClose={onClose}>Reading the lock again…</Frame>;
  if (detail.isError)
    return (
      <Frame onClose={onClose}>
        <p className="alert">Could not read the lock: {detail.error.message}</p>
      </Frame>
    );
  const holder = detail.data.holders.find((h) => h.token === lock.token);

  if (!holder) {
    return (
      <Frame onClose={onClose} title={`Lock ${lock.key} changed`}>
        <p data-testid="release-changed">
          Token <span className="mono">{lock.token}</span> no longer holds this lock, so there is nothing to release under it.{" "}
          {detail.data.holders.length
            ? `It is now held by ${detail.data.holders.map((h) => `${h.owner} (token ${h.token})`).join(", ")}.`
            : "Nobody holds it now."}
        </p>
      </Frame>
    );
  }

  if (holder.prepared) {
    const p = holder.prepared;
    return (
      <Frame onClose={onClose} title={`Lock ${lock.key} cannot be released`}>
        <div className={styles.warnBox} data-testid="release-in-doubt">
          <p>
            Its holder, transaction <span className="mono">{p.txId}</span>, is in doubt ({p.status}). Its prepared branch
            {p.preparedOn.length + p.unconfirmedOn.length > 1 ? "es" : ""} on {[...p.preparedOn, ...p.unconfirmedOn].join(", ")}{" "}
            still hold
            {p.preparedOn.length + p.unconfirmedOn.length > 1 ? "" : "s"} the rows in PostgreSQL: releasing the Redis lock would
            not free them.
          </p>
          <p>
            Resolve the transaction instead: <Link href={p.href}>open transaction {p.txId.slice(0, 8)}…</Link>
          </p>
        </div>
      </Frame>
    );
  }

  const release = async (reason: string) => {
    const result = await apiFetch<ReleaseResult>("/api/locks/release", {
      method: "POST",
      body: { key: lock.key, expectedToken: lock.token, reason },
    }).finally(() => void queryClient.invalidateQueries({ queryKey: LOCKS_KEY }));
    onReleased(result);
  };
  const at = now ?? detail.data.now;
  return (
    <ReasonDialog title={`Release lock ${lock.key}`} confirmLabel="Release lock" danger onConfirm={release} onClose={onClose}>
      <dl className={styles.facts}>
        <dt>Holder</dt>
        <dd>
          <HolderCell owner={holder.owner} tx={holder.holderTx} />
        </dd>
        <dt>Token being released</dt>
        <dd className="mono" data-testid="release-token">
          {holder.token}
        </dd>
        <dt>Mode</dt>
        <dd>{holder.mode}</dd>
        <dt>Held for</dt>
        <dd>{formatSpan(at - holder.acquiredAt)}</dd>
        <dt>TTL left</dt>
        <dd>{formatTtl(holder.expiresAt - at)}</dd>
        <dt>Waiters</dt>
        <dd>{detail.data.waiters.length ? `${detail.data.waiters.length}; the first is served next` : "none"}</dd>
      </dl>
      <p className="muted">
        Only this grant is released: if the lock changed hands since, nothing happens. The fence moves past token {holder.token},
        so the old holder can never write under it again.
      </p>
    </ReasonDialog>
  );
}

/** The dialog when there is nothing to confirm: what the lock is now, and a way out. */
function Frame({ title = "Release lock", onClose, children }: { title?: string; onClose(): void; children: ReactNode }) {
  return (
    <Dialog title={title} onClose={onClose}>
      {children}
      <div className="dialog-actions">
        <button type="button" className="button button-quiet" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
    </Dialog>
  );
}
