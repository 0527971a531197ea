// Each shard's share of the circle (what the ring promises) next to its share of the
// accounts really stored on it, and the load imbalance of both (max over mean, by weight).
import { count, percent, ratio } from "./format";
import styles from "./ring.module.css";
import type { RingOverview } from "./types";

export function SharesTable({ ring, colors }: { ring: RingOverview; colors: Map<string, string> }) {
  return (
    <section className="panel" data-testid="ring-shares">
      <div className="panel-head">
        <h2>Shares</h2>
        <span className="panel-meta">
          {count(ring.totalKeys)} accounts · {ring.vnodesPerWeight} virtual nodes per unit of weight
        </span>
      </div>
      <table className="table">
        <thead>
          <tr>
            <th>Shard</th>
            <th>Weight</th>
            <th>Ring share</th>
            <th>Ideal</th>
            <th>Accounts</th>
            <th>Account share</th>
          </tr>
        </thead>
        <tbody>
          {ring.shards.map((s) => (
            <tr key={s.name} data-testid={`ring-shard-${s.name}`}>
              <td>
                <span className={styles.swatch} style={{ background: colors.get(s.name) }} />
                {s.name}
                {!s.onRing && <span className="tag"> not on the ring</span>}
              </td>
              <td>{s.onRing ? s.weight : "–"}</td>
              <td data-testid={`ring-share-${s.name}`}>{s.onRing ? percent(s.ringShare) : "–"}</td>
              <td>{s.onRing ? percent(s.idealShare) : "–"}</td>
              <td>{count(s.keys)}</td>
              <td>{percent(s.keyShare)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className={styles.figures}>
        <Figure label="Imbalance of the ring" value={ratio(ring.imbalance.ring)} testId="ring-imbalance" />
        <Figure label="Imbalance of accounts" value={ratio(ring.imbalance.keys)} testId="key-imbalance" />
      </div>
      <p className="muted">Imbalance is the most loaded shard&apos;s share over what its weight asks for; 1.000 is perfect.</p>
    </section>
  );
}

export function Figure({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className={styles.figure}>
      <div className={styles.figureLabel}>{label}</div>
      <div className={styles.figureValue} data-testid={testId}>
        {value}
      </div>
    </div>
  );
}
