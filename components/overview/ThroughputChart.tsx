"use client";
// Commits and aborts per second over the metrics window, one point per bucket.
import { Area, AreaChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { MetricsBucket } from "@/server/stats/metrics";
import { COLORS, tickTime, tooltipTime } from "./chartFormat";
import { formatRate } from "@/components/transactions/format";

export function ThroughputChart({ buckets, height = 220 }: { buckets: MetricsBucket[]; height?: number }) {
  return (
    <ResponsiveContainer width="100%" height={height} initialDimension={{ width: 560, height }}>
      <AreaChart data={buckets} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
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
        <YAxis stroke={COLORS.muted} fontSize={11} width={44} allowDecimals tickFormatter={(v: number) => formatRate(v)} />
        <Tooltip
          labelFormatter={tooltipTime}
          formatter={(value) => `${formatRate(Number(value))}/s`}
          contentStyle={{ background: "var(--surface)", border: "1px solid var(--border)", fontSize: 12 }}
        />
        <Legend iconType="plainline" wrapperStyle={{ fontSize: 12 }} />
        <Area
          type="linear"
          dataKey="commitsPerSecond"
          name="commits/s"
          stroke={COLORS.ok}
          fill={COLORS.ok}
          fillOpacity={0.15}
          strokeWidth={2}
          isAnimationActive={false}
          dot={false}
        />
        <Area
          type="linear"
          dataKey="abortsPerSecond"
          name="aborts/s"
          stroke={COLORS.bad}
          fill={COLORS.bad}
          fillOpacity={0.15}
          strokeWidth={2}
          isAnimationActive={false}
          dot={false}
        />
      </AreaChart>
    </ResponsiveContainer>
  );
}
