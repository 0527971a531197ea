"use client";
// The ring as SVG: the hash circle clockwise from the top, each virtual node's arc and
// point in its shard's colour, sample accounts as dots inside, and, during a what-if, the
// ranges that would move drawn outside in the colour of the shard they would go to.
// Hovering anything shows its range and owner.
import { memo, useCallback, useState, type MouseEvent } from "react";
import { count, hashHex, HASH_SPACE, percent } from "./format";
import styles from "./ring.module.css";
import type { MovedRange, RingRange, SampleKey } from "./types";

const SIZE = 440;
const C = SIZE / 2;
const R = 160;
const BAND = 20;
const MOVED_R = R + BAND / 2 + 14;
const SAMPLE_R = R - BAND / 2 - 16;

type Hovered =
  | { kind: "range"; range: RingRange; point: boolean }
  | { kind: "moved"; range: MovedRange }
  | { kind: "sample"; sample: SampleKey };

export interface RingChartProps {
  ranges: RingRange[];
  samples: SampleKey[];
  colors: Map<string, string>;
  /** What-if: ranges that would change owner. */
  moved?: MovedRange[] | null;
}

export function RingChart({ ranges, samples, colors, moved }: RingChartProps) {
  const [hover, setHover] = useState<{ item: Hovered; x: number; y: number } | null>(null);
  // Stable, so the memoised arcs do not re-render on every mouse move.
  const track = useCallback(
    (item: Hovered) => (e: MouseEvent<SVGElement>) => {
      const box = e.currentTarget.ownerSVGElement?.getBoundingClientRect();
      if (box) setHover({ item, x: e.clientX - box.left, y: e.clientY - box.top });
    },
    [],
  );
  const leave = useCallback(() => setHover(null), []);

  return (
    <div className={styles.chart} data-testid="ring-chart">
      <svg viewBox={`0 0 ${SIZE} ${SIZE}`} width={SIZE} height={SIZE} role="img" aria-label="Consistent-hash ring">
        <circle cx={C} cy={C} r={R} className={styles.track} />
        <Arcs ranges={ranges} colors={colors} onHover={track} onLeave={leave} />
        {moved?.map((m) => (
          <path
            key={`m${m.start}`}
            d={arc(m.start, m.end, MOVED_R)}
            className={styles.moved}
            stroke={colors.get(m.to) ?? "currentColor"}
            data-testid="moved-range"
            onMouseMove={track({ kind: "moved", range: m })}
            onMouseLeave={leave}
          />
        ))}
        {samples.map((s) => {
          const [x, y] = polar(s.hash, SAMPLE_R);
          const moving = s.at !== s.owner;
          return (
            <circle
              key={s.key}
              cx={x}
              cy={y}
              r={moving ? 5 : 4}
              fill={colors.get(s.at) ?? "currentColor"}
              stroke={moving ? (colors.get(s.owner) ?? "currentColor") : "var(--surface)"}
              strokeWidth={moving ? 2.5 : 1}
              className={styles.sample}
              data-testid="ring-sample"
              onMouseMove={track({ kind: "sample", sample: s })}
              onMouseLeave={leave}
            />
          );
        })}
        <text x={C} y={C - 6} className={styles.centre}>
          {count(ranges.length - 1)} points
        </text>
        <text x={C} y={C + 12} className={styles.centreSmall}>
          {samples.length} sample accounts
        </text>
      </svg>
      {hover && (
        <div
          className={styles.tooltip}
          role="tooltip"
          data-testid="ring-tooltip"
          style={{ left: hover.x + 14, top: hover.y + 14 }}
        >
          <Describe item={hover.item} />
        </div>
      )}
    </div>
  );
}

/** The virtual nodes: memoised, since hovering re-renders the chart and these are ~1000 elements. */
const Arcs = memo(function Arcs({
  ranges,
  colors,
  onHover,
  onLeave,
}: {
  ranges: RingRange[];
  colors: Map<string, string>;
  onHover: (item: Hovered) => (e: MouseEvent<SVGElement>) => void;
  onLeave: () => void;
}) {
  return (
    <g>
      {ranges.map((r) => (
        <path
          key={`a${r.start}`}
          d={arc(r.start, r.end, R)}
          className={styles.arc}
          stroke={colors.get(r.owner) ?? "currentColor"}
          strokeWidth={BAND}
          data-owner={r.owner}
          onMouseMove={onHover({ kind: "range", range: r, point: false })}
          onMouseLeave={onLeave}
        />
      ))}
      {/* The last range is the arc past the highest point, owned by the first: no point of its own. */}
      {ranges.slice(0, -1).map((r) => {
        const [x, y] = polar(r.end, R + BAND / 2 + 3);
        return (
          <circle
            key={`p${r.end}`}
            cx={x}
            cy={y}
            r={2.2}
            fill={colors.get(r.owner) ?? "currentColor"}
            className={styles.point}
            data-testid="ring-vnode"
            onMouseMove={onHover({ kind: "range", range: r, point: true })}
            onMouseLeave={onLeave}
          />
        );
      })}
    </g>
  );
});

function Describe({ item }: { item: Hovered }) {
  if (item.kind === "sample") {
    const s = item.sample;
    return (
      <>
        <strong>account {s.key}</strong>
        <div>hash {hashHex(s.hash)}</div>
        <div>
          on <strong>{s.at}</strong>
          {s.at !== s.owner && <> · moving to {s.owner}</>}
        </div>
      </>
    );
  }
  const r = item.range;
  const span = `${hashHex(r.start)} – ${hashHex(r.end)}`;
  const share = percent((r.end - r.start + 1) / HASH_SPACE, 3);
  if (item.kind === "moved") {
    return (
      <>
        <strong>would move</strong>
        <div>{span}</div>
        <div>
          {item.range.from} → <strong>{item.range.to}</strong> · {share} of the ring
        </div>
      </>
    );
  }
  return (
    <>
      <strong>{item.point ? `virtual node of ${item.range.owner}` : "range"}</strong>
      <div>{span}</div>
      <div>
        owner <strong data-testid="ring-tooltip-owner">{item.range.owner}</strong> · {share} of the ring
      </div>
    </>
  );
}

/** Clockwise from the top. */
function polar(hash: number, radius: number): [number, number] {
  const angle = (hash / HASH_SPACE) * 2 * Math.PI - Math.PI / 2;
  return [C + radius * Math.cos(angle), C + radius * Math.sin(angle)];
}

/** An arc over the hashes [start, end], inclusive. */
function arc(start: number, end: number, radius: number): string {
  const [x1, y1] = polar(start, radius);
  const [x2, y2] = polar(end + 1, radius);
  const large = (end + 1 - start) / HASH_SPACE > 0.5 ? 1 : 0;
  if (end + 1 - start >= HASH_SPACE) {
    // A whole circle cannot be one arc (start and end coincide): two halves.
    const [xm, ym] = polar(start + HASH_SPACE / 2, radius);
    return `M${x1} ${y1}A${radius} ${radius} 0 0 1 ${xm} ${ym}A${radius} ${radius} 0 0 1 ${x1} ${y1}`;
  }
  return `M${x1.toFixed(2)} ${y1.toFixed(2)}A${radius} ${radius} 0 ${large} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}
