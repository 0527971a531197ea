"use client";
// What-if: add, remove or reweight a shard and see, computed on the server from the
// current ring and the stored accounts, which ranges and what share would move, against
// the least any placement could move. Nothing changes until an admin starts a rebalance.
import { useState, type FormEvent } from "react";
import { ReasonDialog } from "@/components/forms/ReasonDialog";
import { count, percent, ratio } from "./format";
import { Figure } from "./SharesTable";
import styles from "./ring.module.css";
import type { RingChangeInput, RingOverview, WhatIfView } from "./types";

type Op = RingChangeInput["op"];

export interface WhatIfPanelProps {
  ring: RingOverview;
  colors: Map<string, string>;
  canAdmin: boolean;
  preview: { data: WhatIfView | undefined; pending: boolean; error: Error | null };
  onPreview: (change: RingChangeInput | null) => void;
  onStart: (view: WhatIfView, reason: string) => Promise<unknown>;
}

export function WhatIfPanel({ ring, colors, canAdmin, preview, onPreview, onStart }: WhatIfPanelProps) {
  const onRing = ring.members.map((m) => m.name);
  const [op, setOp] = useState<Op>("add");
  const [addName, setAddName] = useState(() => suggestNewShard(ring));
  const [member, setMember] = useState(onRing[0] ?? "");
  const [weight, setWeight] = useState("1");
  const [confirming, setConfirming] = useState(false);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const w = Number(weight);
    if (op === "add") onPreview({ op, shard: addName.trim(), weight: w });
    else if (op === "remove") onPreview({ op, shard: member });
    else onPreview({ op, shard: member, weight: w });
  };
  const result = preview.data;

  return (
    <section className="panel" data-testid="what-if-panel">
      <div className="panel-head">
        <h2>What if…</h2>
        <span className="panel-meta">previews only; the ring changes when an admin starts a rebalance</span>
      </div>
      <form className="inline-form" onSubmit={submit}>
        <label className="field">
          <span>Change</span>
          <select
            name="op"
            value={op}
            onChange={(e) => {
              const next = e.target.value as Op;
              setOp(next);
              if (next === "reweight") setWeight(String(2 * (ring.members.find((m) => m.name === member)?.weight ?? 1)));
              if (next === "add") setWeight("1");
            }}
          >
            <option value="add">add a shard</option>
            <option value="remove">remove a shard</option>
            <option value="reweight">reweight a shard</option>
          </select>
        </label>
        <label className="field">
          <span>Shard</span>
          {op === "add" ? (
            <input name="shard" value={addName} onChange={(e) => setAddName(e.target.value)} list="ring-known-shards" required />
          ) : (
            <select name="shard" value={member} onChange={(e) => setMember(e.target.value)}>
              {onRing.map((name) => (
                <option key={name}>{name}</option>
              ))}
            </select>
          )}
        </label>
        <datalist id="ring-known-shards">
          {ring.knownShards
            .filter((name) => !onRing.includes(name))
            .map((name) => (
              <option key={name} value={name} />
            ))}
        </datalist>
        {op !== "remove" && (
          <label className="field">
            <span>Weight</span>
            <input
              name="weight"
              type="number"
              min="0.01"
              max="100"
              step="any"
              value={weight}
              onChange={(e) => setWeight(e.target.value)}
              required
            />
          </label>
        )}
        <button type="submit" className="button" disabled={preview.pending}>
          {preview.pending ? "Computing…" : "Preview"}
        </button>
        {result && (
          <button type="button" className="button button-quiet" onClick={() => onPreview(null)}>
            Clear
          </button>
        )}
      </form>

      {preview.error && (
        <p className="alert" role="alert">
          {preview.error.message}
        </p>
      )}
      {result && (
        <div data-testid="what-if-result">
          <p>
            <strong>{result.description}</strong> (ring version {result.fromVersion} → {result.fromVersion + 1})
          </p>
          <div className={styles.figures}>
            <Figure label="Share of the ring that moves" value={percent(result.movedShare, 2)} testId="what-if-moved-share" />
            <Figure label="Least any placement moves" value={percent(result.idealMovedShare, 2)} testId="what-if-ideal-share" />
            <Figure
              label="Accounts that move"
              value={result.keys ? `${count(result.keys.moved)} (${percent(result.keys.movedFraction)})` : "–"}
              testId="what-if-moved-keys"
            />
            <Figure
              label="Imbalance after (ring)"
              value={`${ratio(result.before.imbalance)} → ${ratio(result.after.imbalance)}`}
            />
            {result.keys && (
              <Figure
                label="Imbalance after (accounts)"
                value={`${ratio(result.keys.imbalanceBefore)} → ${ratio(result.keys.imbalanceAfter)}`}
                testId="what-if-key-imbalance"
              />
            )}
          </div>
          <p className="muted">
            {result.movedRanges.length} moving range(s), drawn dashed outside the ring in the colour of the shard they go to.
          </p>
          {result.keys && result.keys.flows.length > 0 && (
            <table className="table">
              <thead>
                <tr>
                  <th>From</th>
                  <th>To</th>
                  <th>Accounts</th>
                </tr>
              </thead>
              <tbody>
                {result.keys.flows.map((f) => (
                  <tr key={`${f.from}>${f.to}`}>
                    <td>
                      <span className={styles.swatch} style={{ background: colors.get(f.from) }} />
                      {f.from}
                    </td>
                    <td>
                      <span className={styles.swatch} style={{ background: colors.get(f.to) }} />
                      {f.to}
                    </td>
                    <td>{count(f.keys)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {canAdmin && (
            <div className="dialog-actions">
              <button
                type="button"
                className="button"
                disabled={!result.applicable}
                onClick={() => setConfirming(true)}
                data-testid="start-rebalance"
              >
                Start rebalance…
              </button>
              {result.blockedBy && <span className="muted">{result.blockedBy}</span>}
            </div>
          )}
        </div>
      )}
      {confirming && result && (
        <ReasonDialog
          title={`Rebalance: ${result.description}`}
          confirmLabel="Start rebalance"
          onConfirm={(reason) => onStart(result, reason)}
          onClose={() => setConfirming(false)}
        >
          <p>
            Saves ring version {result.fromVersion + 1} and moves {result.keys ? count(result.keys.moved) : "the"} account(s),
            each in its own Cohort transaction, while the workload keeps running. It can be cancelled and resumed.
          </p>
        </ReasonDialog>
      )}
    </section>
  );
}

/** A shard the engine knows that is not on the ring, else the next free "shard-<letter>" (a preview only). */
function suggestNewShard(ring: RingOverview): string {
  const onRing = new Set(ring.members.map((m) => m.name));
  const spare = ring.knownShards.find((name) => !onRing.has(name));
  if (spare) return spare;
  const taken = new Set([...onRing, ...ring.knownShards]);
  for (const c of "abcdefghijklmnopqrstuvwxyz") if (!taken.has(`shard-${c}`)) return `shard-${c}`;
  return "shard-new";
}
