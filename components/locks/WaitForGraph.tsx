"use client";
// The wait-for graph drawn: transactions as nodes, an arrow from each waiter to what it
// waits for, cycles (deadlocks the detector is about to break) in red. Hover an arrow for
// the keys behind it.
import { useQuery } from "@tanstack/react-query";
import { useId, useMemo } from "react";
import type { LockGraph } from "@/server/ops/locks";
import { isTxId, shortOwner } from "./format";
import { circularLayout, edgePath, labelPlacement, NODE_RADIUS } from "./graphLayout";
import styles from "./locks.module.css";
import { fetchLockGraph, LOCK_GRAPH_KEY, POLL_MS } from "./queries";
import { PendingNote } from "@/components/live/PendingNote";

/** Beyond this many transactions the picture says nothing a table would not say better. */
const MAX_NODES = 80;

export function WaitForGraphPanel() {
  const query = useQuery({ queryKey: LOCK_GRAPH_KEY, queryFn: ({ signal }) => fetchLockGraph(signal), refetchInterval: POLL_MS });
  const graph = query.data;
  return (
    <section className="panel" data-testid="wait-for-graph">
      <div className="panel-head">
        <h2>Wait-for graph</h2>
        <span className="panel-meta">
          {graph
            ? `${graph.nodes.length} transaction${graph.nodes.length === 1 ? "" : "s"}, ${graph.cycles.length} cycle${graph.cycles.length === 1 ? "" : "s"}`
            : ""}
        </span>
      </div>
      {query.isPending && <PendingNote query={query} what="the wait-for graph" />}
      {query.isError && <p className="alert">Could not load the wait-for graph: {query.error.message}</p>}
      {graph && graph.edges.length === 0 && <p className="muted">No transaction waits for another.</p>}
      {graph && graph.edges.length > 0 && graph.nodes.length > MAX_NODES && (
        <p className="muted">
          {graph.nodes.length} transactions wait for each other: too many to draw. Open a lock in the table to see its waiters.
        </p>
      )}
      {graph && graph.edges.length > 0 && graph.nodes.length <= MAX_NODES && <GraphPicture graph={graph} />}
      {graph && graph.cycles.length > 0 && (
        <ul data-testid="wait-for-cycles">
          {graph.cycles.map((c) => (
            <li key={c.join(">")}>
              Cycle: {[...c, c[0]!].map(shortOwner).join(" → ")}{" "}
              <span className="muted">(the deadlock detector aborts the youngest)</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function GraphPicture({ graph }: { graph: LockGraph }) {
  const markerId = useId().replaceAll(":", "");
  const layout = useMemo(
    () =>
      circularLayout(
        graph.nodes.map((n) => n.id),
        graph.edges,
      ),
    [graph.nodes, graph.edges],
  );
  return (
    <>
      <svg
        className={styles.graph}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        width={layout.width}
        role="img"
        aria-label={`Wait-for graph: ${graph.edges.length} waits among ${graph.nodes.length} transactions`}
      >
        <defs>
          <ArrowHead id={`${markerId}-a`} className={styles.arrow} />
          <ArrowHead id={`${markerId}-c`} className={styles.arrowCycle} />
        </defs>
        {graph.edges.map((e) => {
          const from = layout.positions.get(e.waiter);
          const to = layout.positions.get(e.holder);
          if (!from || !to) return null;
          const { d, mid } = edgePath(from, to);
          const keys = e.waits.map((w) => (w.via === "holds" ? w.key : `${w.key} (queued ahead)`));
          return (
            <g key={`${e.waiter}>${e.holder}`} data-testid="wait-edge" data-cycle={e.inCycle ? "true" : undefined}>
              <title>{`${e.waiter} waits for ${e.holder} on ${keys.join(", ")}`}</title>
              <path
                d={d}
                className={`${styles.edge} ${e.inCycle ? styles.edgeCycle : ""}`}
                markerEnd={`url(#${markerId}-${e.inCycle ? "c" : "a"})`}
              />
              <text x={mid.x} y={mid.y} className={styles.edgeLabel}>
                {keys.length === 1 ? truncate(keys[0]!, 22) : `${keys.length} keys`}
              </text>
            </g>
          );
        })}
        {graph.nodes.map((n) => {
          const p = layout.positions.get(n.id)!;
          const label = labelPlacement(p, layout.centre);
          // Two lines (id, label): stacked upwards above the circle, downwards elsewhere.
          const lines = [shortOwner(n.id), ...(n.tx ? [truncate(n.tx.label, 18)] : [])];
          const firstY = label.above
            ? label.y - 4 - 13 * (lines.length - 1)
            : label.anchor === "middle"
              ? label.y + 10
              : label.y + 4;
          const body = (
            <>
              <title>{`${n.id}${n.tx ? ` · ${n.tx.label} · ${n.tx.status}` : ""}`}</title>
              <circle cx={p.x} cy={p.y} r={NODE_RADIUS} />
              {lines.map((line, i) => (
                <text
                  key={i}
                  x={label.x}
                  y={firstY + 13 * i}
                  textAnchor={label.anchor}
                  className={i ? styles.nodeSub : undefined}
                >
                  {line}
                </text>
              ))}
            </>
          );
          return (
            <g key={n.id} className={`${styles.node} ${n.inCycle ? styles.nodeCycle : ""}`} data-testid="wait-node">
              {/* A plain SVG anchor: next/link renders an HTML one. */}
              {isTxId(n.id) ? <a href={`/transactions/${n.id}`}>{body}</a> : body}
            </g>
          );
        })}
      </svg>
      <div className={styles.legend}>
        <span>arrow: waits for</span>
        <span style={{ color: "var(--bad)" }}>red: a cycle (deadlock)</span>
      </div>
    </>
  );
}

/** An edge's arrow head; the class gives its colour (cycles are red). */
function ArrowHead({ id, className }: { id: string; className: string | undefined }) {
  return (
    <marker
      id={id}
      viewBox="0 0 10 10"
      refX="8"
      refY="5"
      markerWidth="9"
      markerHeight="9"
      markerUnits="userSpaceOnUse"
      orient="auto"
    >
      <path d="M0,0 L10,5 L0,10 z" className={className} />
    </marker>
  );
}

const truncate = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
