"use client";
// Commit latency (start to end record) p50 and p99 per bucket; gaps where nothing committed.
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { MetricsBucket } from "@/server/stats/metrics";
import { formatDuration } from "@/components/transactions/format";
import { COLORS, tickTime, tooltipTime } from "./chartFormat";

/** Small dots: a lone bucket with commits between empty ones has no line to draw. */
const DOT = { r: 1.5, strokeWidth: 1 };

export function LatencyChart({ buckets, height = 220 }: { buckets: MetricsBucket[]; height?: number }) {
  return (
    <ResponsiveContainer width="100%" height={height} initialDimension={{ width: 560, height }}>
      <LineChart data={buckets} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
        <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
        <XAxis
          dataKey="t"
          type="number"
          scale="time"
          domain={["dataMin", "dataMax"]}
          tickFormatter={tickTime}
          stroke={COLORS.muted}
          fontSize={11}
          minTickGap={40}
        />
        <YAxis stroke={COLORS.muted} fontSize={11} width={64} tickFormatter={(v: number) => formatDuration(v)} />
        <Tooltip
          labelFormatter={tooltipTime}
          formatter={(value) => (value === null || value === undefined ? "–" : formatDuration(Number(value)))}
          contentStyle={{ background: "var(--surface)", border: "1px solid var(--border)", fontSize: 12 }}
        />
        <Legend iconType="plainline" wrapperStyle={{ fontSize: 12 }} />
        <Line
          type="linear"
          dataKey="p50Ms"
          name="p50"
          stroke={COLORS.accent}
          strokeWidth={2}
          dot={DOT}
          isAnimationActive={false}
        />
        <Line type="linear" dataKey="p99Ms" name="p99" stroke={COLORS.warn} strokeWidth={2} dot={DOT} isAnimationActive={false} />
      </LineChart>
    </ResponsiveContainer>
  );
}
