"use client";
// A stream's sampled series (server/queues/sampler.ts, one point a second, last minutes):
// depth (length, lag, pending, dead letters) and rates in and out per second.
import type { ReactNode } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { COLORS, tooltipTime } from "@/components/overview/chartFormat";
import { useMounted } from "@/components/overview/useMounted";
import { formatRate } from "@/components/transactions/format";
import type { QueueSample } from "@/server/queues/types";
import { clock, count } from "./format";
import styles from "./queues.module.css";

const HEIGHT = 200;
const TOOLTIP_STYLE = { background: "var(--surface)", border: "1px solid var(--border)", fontSize: 12 };

interface Series {
  key: keyof QueueSample;
  name: string;
  color: string;
}

const DEPTH: Series[] = [
  { key: "length", name: "length", color: COLORS.accent },
  { key: "lag", name: "lag", color: COLORS.warn },
  { key: "pending", name: "pending", color: COLORS.muted },
  { key: "deadLetters", name: "dead letters", color: COLORS.bad },
];
const RATES: Series[] = [
  { key: "inPerS", name: "in/s", color: COLORS.accent },
  { key: "outPerS", name: "out/s", color: COLORS.ok },
];

export function QueueCharts({ series }: { series: QueueSample[] }) {
  const mounted = useMounted();
  const span = series.length > 1 ? series.at(-1)!.at - series[0]!.at : 0;
  const meta = series.length > 1 ? `last ${Math.round(span / 1000)} s, ${series.length} samples` : "";
  return (
    <div className={styles.charts}>
      <ChartBox id="depth" title="Depth" meta={meta} empty={series.length < 2}>
        {mounted && <SeriesChart series={series} lines={DEPTH} format={(v) => count(v)} decimals={false} />}
      </ChartBox>
      <ChartBox id="rates" title="Rates per second" meta={meta} empty={series.length < 2}>
        {mounted && <SeriesChart series={series} lines={RATES} format={(v) => `${formatRate(v)}/s`} decimals />}
      </ChartBox>
    </div>
  );
}

function ChartBox(props: { id: string; title: string; meta: string; empty: boolean; children: ReactNode }) {
  return (
    <figure className={styles.chart} aria-labelledby={`queue-${props.id}-title`} data-testid={`queue-${props.id}-chart`}>
      <figcaption className="panel-head">
        <h3 id={`queue-${props.id}-title`}>{props.title}</h3>
        <span className="muted panel-meta">{props.meta}</span>
      </figcaption>
      <div className={styles.chartBox} style={{ height: HEIGHT }}>
        {props.empty ? <p className="muted">No samples yet: the console samples every stream once a second.</p> : props.children}
      </div>
    </figure>
  );
}

function SeriesChart(props: { series: QueueSample[]; lines: Series[]; format: (v: number) => string; decimals: boolean }) {
  const { series, lines, format, decimals } = props;
  return (
    <ResponsiveContainer width="100%" height={HEIGHT} initialDimension={{ width: 520, height: HEIGHT }}>
      <LineChart data={series} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
        <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
        <XAxis
          dataKey="at"
          type="number"
          scale="time"
          domain={["dataMin", "dataMax"]}
          tickFormatter={clock}
          stroke={COLORS.muted}
          fontSize={11}
          minTickGap={48}
        />
        <YAxis stroke={COLORS.muted} fontSize={11} width={48} allowDecimals={decimals} tickFormatter={(v: number) => format(v)} />
        <Tooltip labelFormatter={tooltipTime} formatter={(value) => format(Number(value))} contentStyle={TOOLTIP_STYLE} />
        <Legend iconType="plainline" wrapperStyle={{ fontSize: 12 }} />
        {lines.map((l) => (
          <Line
            key={l.key}
            type="linear"
            dataKey={l.key}
            name={l.name}
            stroke={l.color}
            strokeWidth={2}
            dot={false}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </ResponsiveContainer>
  );
}
