"use client";
// A stream's sampled series (server/queues/sampler.ts, one point a second, last minutes):
// depth (length, lag, pending, dead letters) and rates in and out per second.
import { COLORS } from "@/components/charts/chartFormat";
import { TimeSeriesChart, type Series } from "@/components/charts/TimeSeriesChart";
import { formatRate } from "@/components/transactions/format";
import type { QueueSample } from "@/server/queues/types";
import { clock, count } from "./format";
import styles from "./queues.module.css";

const HEIGHT = 200;
const NO_SAMPLES = "No samples yet: the console samples every stream once a second.";

const DEPTH: Series<QueueSample>[] = [
  { key: "length", name: "length", color: COLORS.accent },
  { key: "lag", name: "lag", color: COLORS.warn },
  { key: "pending", name: "pending", color: COLORS.muted },
  { key: "deadLetters", name: "dead letters", color: COLORS.bad },
];
const RATES: Series<QueueSample>[] = [
  { key: "inPerS", name: "in/s", color: COLORS.accent },
  { key: "outPerS", name: "out/s", color: COLORS.ok },
];

const perSecond = (v: number) => `${formatRate(v)}/s`;

export function QueueCharts({ series }: { series: QueueSample[] }) {
  const span = series.length > 1 ? series.at(-1)!.at - series[0]!.at : 0;
  const meta = series.length > 1 ? `last ${Math.round(span / 1000)} s, ${series.length} samples` : "";
  const chart = { data: series, timeKey: "at", height: HEIGHT, tickFormat: clock, minTickGap: 48 } as const;
  const empty = series.length < 2 ? NO_SAMPLES : undefined;
  return (
    <div className={styles.charts}>
      <figure className={styles.chart} aria-labelledby="queue-depth-title" data-testid="queue-depth-chart">
        <ChartCaption id="queue-depth-title" title="Depth" meta={meta} />
        <TimeSeriesChart {...chart} series={DEPTH} format={count} allowDecimals={false} empty={empty} />
      </figure>
      <figure className={styles.chart} aria-labelledby="queue-rates-title" data-testid="queue-rates-chart">
        <ChartCaption id="queue-rates-title" title="Rates per second" meta={meta} />
        <TimeSeriesChart {...chart} series={RATES} format={perSecond} empty={empty} />
      </figure>
    </div>
  );
}

function ChartCaption({ id, title, meta }: { id: string; title: string; meta: string }) {
  return (
    <figcaption className="panel-head">
      <h3 id={id}>{title}</h3>
      <span className="muted panel-meta">{meta}</span>
    </figcaption>
  );
}
