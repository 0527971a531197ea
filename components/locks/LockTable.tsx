"use client";
// Held locks, one row per grant (a shared lock has a row per holder). A row opens to show
// the lock's holders and waiters; operators get a Release button per grant.
import { Fragment } from "react";
import type { LockRow } from "@/server/ops/locks";
import { formatSpan, formatTtl } from "./format";
import { HolderCell } from "./HolderCell";
import { LockDetailPanel } from "./LockDetailPanel";
import styles from "./locks.module.css";

/** A lease this close to its end is shown in the warning colour. */
const SOON_MS = 5_000;

export interface LockTableProps {
  locks: LockRow[];
  /** Redis time now (ticking). */
  now: number;
  expanded: ReadonlySet<string>;
  onToggle(key: string): void;
  /** Absent for viewers: no Release buttons at all. */
  onRelease?: (lock: LockRow) => void;
}

export function LockTable({ locks, now, expanded, onToggle, onRelease }: LockTableProps) {
  const columns = onRelease ? 8 : 7;
  return (
    <table className="table" data-testid="locks-table">
      <thead>
        <tr>
          <th>Key</th>
          <th>Holder transaction</th>
          <th>Mode</th>
          <th>Token</th>
          <th>Age</th>
          <th>TTL left</th>
          <th>Waiters</th>
          {onRelease && <th />}
        </tr>
      </thead>
      <tbody>
        {locks.map((l, i) => {
          const open = expanded.has(l.key);
          // Only the first row of a key opens its detail (shared holders share the lock).
          const first = locks.findIndex((x) => x.key === l.key) === i;
          const ttl = l.expiresAt - now;
          return (
            <Fragment key={`${l.key}\u0000${l.token}`}>
              <tr data-testid="lock-row" data-key={l.key} data-token={l.token}>
                <td>
                  <button
                    type="button"
                    className={`${styles.expander} ${styles.key}`}
                    aria-expanded={open}
                    onClick={() => onToggle(l.key)}
                    title="Show holders and waiters"
                  >
                    {l.key}
                  </button>
                </td>
                <td>
                  <HolderCell owner={l.owner} tx={l.holderTx} />
                </td>
                <td>{l.mode}</td>
                <td className="mono">{l.token}</td>
                <td>{formatSpan(now - l.acquiredAt)}</td>
                <td className={ttl < SOON_MS ? styles.soon : undefined}>{formatTtl(ttl)}</td>
                <td>{l.waiting > 0 ? <strong>{l.waiting}</strong> : <span className="muted">0</span>}</td>
                {onRelease && (
                  <td>
                    <button type="button" className="button" onClick={() => onRelease(l)}>
                      Release…
                    </button>
                  </td>
                )}
              </tr>
              {open && first && (
                <tr className={styles.detailRow}>
                  <td colSpan={columns}>
                    <LockDetailPanel lockKey={l.key} />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}
