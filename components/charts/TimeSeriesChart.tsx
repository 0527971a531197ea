"use client";
// The console's one kind of chart: figures over time, drawn with recharts. Time runs along
// the x axis in local clock time, each series is a line (or a filled area), the tooltip
// speaks the y axis's units, and when there is nothing to show a message sits over the
// empty axes instead. Drawn only after hydration: tick labels are local times, which the
// server (in another time zone) cannot reproduce.
import { Area, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { COLORS, tickTime, tooltipTime } from "./chartFormat";
import styles from "./charts.module.css";
import { useMounted } from "./useMounted";

export interface Series<T> {
  key: keyof T & string;
  name: string;
  color: string;
  /** A line (default), or an area filled down to zero. */
  kind?: "line" | "area";
}

export interface TimeSeriesChartProps<T> {
  data: T[];
  /** The field holding each point's time, in epoch ms. */
  timeKey: keyof T & string;
  series: readonly Series<T>[];
  height: number;
  /** Y-axis ticks; also tooltip values unless `tooltipFormat` is given. */
  format: (value: number) => string;
  tooltipFormat?: (value: number) => string;
  /** Shown over the axes in place of data (nothing happened in the window, no samples yet). */
  empty?: string | undefined;
  yAxisWidth?: number;
  allowDecimals?: boolean;
  /** X-axis ticks: HH:MM unless the series spans only minutes. */
  tickFormat?: (ms: number) => string;
  minTickGap?: number;
  /** Points on the lines: where a value stands alone between gaps there is no line to draw. */
  dots?: boolean;
}

const DOT = { r: 1.5, strokeWidth: 1 };
const TOOLTIP_STYLE = { background: "var(--surface)", border: "1px solid var(--border)", fontSize: 12 };

export function TimeSeriesChart<T>(props: TimeSeriesChartProps<T>) {
  const { data, timeKey, series, height, format, empty, yAxisWidth = 48, allowDecimals = true, dots = false } = props;
  const tooltipFormat = props.tooltipFormat ?? format;
  const mounted = useMounted();
  const dot = dots ? DOT : false;
  return (
    <div className={styles.box} style={{ height }}>
      {mounted && (
        <ResponsiveContainer width="100%" height={height} initialDimension={{ width: 560, height }}>
          {/* Keys are checked against T by this component's props; recharts sees plain strings. */}
          <ComposedChart data={data} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
            <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
            <XAxis
              dataKey={timeKey as string}
              type="number"
              scale="time"
              domain={["dataMin", "dataMax"]}
              tickFormatter={props.tickFormat ?? tickTime}
              stroke={COLORS.muted}
              fontSize={11}
              minTickGap={props.minTickGap ?? 40}
            />
            <YAxis
              stroke={COLORS.muted}
              fontSize={11}
              width={yAxisWidth}
              allowDecimals={allowDecimals}
              tickFormatter={(v: number) => format(v)}
            />
            <Tooltip
              labelFormatter={tooltipTime}
              formatter={(value) => (value === null || value === undefined ? "–" : tooltipFormat(Number(value)))}
              contentStyle={TOOLTIP_STYLE}
            />
            <Legend iconType="plainline" wrapperStyle={{ fontSize: 12 }} />
            {series.map((s) => {
              const shared = {
                type: "linear",
                dataKey: s.key as string,
                name: s.name,
                stroke: s.color,
                strokeWidth: 2,
                dot,
                isAnimationActive: false,
              } as const;
              return s.kind === "area" ? (
                <Area key={s.key} {...shared} fill={s.color} fillOpacity={0.15} />
              ) : (
                <Line key={s.key} {...shared} />
              );
            })}
          </ComposedChart>
        </ResponsiveContainer>
      )}
      {empty && <p className={`${styles.empty} muted`}>{empty}</p>}
    </div>
  );
}
