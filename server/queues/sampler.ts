// Samples every stream's figures into a short time series kept in Redis, for the Queues
// page's charts of depth and rates. Each console process runs one, but a per-interval
// SET NX lets only one of them sample each interval, so the series has one point per tick
// however many consoles there are. The rates are differences of Redis's own counters
// (entries-added, and entries-read minus pending), so a sampler that restarts loses nothing.
import type { Redis } from "ioredis";
import { errorMessage } from "../errors";
import { publishEvent } from "../live/events";
import { collectFigures, finishedCount, listStreams } from "./figures";
import type { QueueSample, StreamFigures } from "./types";

/** Points kept per stream: five minutes at the default interval. */
export const SERIES_POINTS = 300;

export function seriesKey(stream: string): string {
  return `${stream}:series`;
}

/** A stored point: the sample plus the raw counters the next one differences against. */
interface StoredPoint extends QueueSample {
  added: number;
  finished: number;
}

export function samplePoint(figures: StreamFigures, previous: StoredPoint | null, at: number): StoredPoint {
  const added = figures.entriesAdded;
  const finished = finishedCount(figures);
  const dt = previous ? (at - previous.at) / 1000 : 0;
  // A counter that went down means the stream was recreated: no rate for this interval.
  const rate = (now: number, before: number | undefined) =>
    dt > 0 && before !== undefined && now >= before ? Math.round(((now - before) / dt) * 10) / 10 : 0;
  return {
    at,
    length: figures.length,
    lag: figures.groups.reduce((sum, g) => sum + (g.lag ?? 0), 0),
    pending: figures.groups.reduce((sum, g) => sum + g.pending, 0),
    deadLetters: figures.deadLetters,
    inPerS: rate(added, previous?.added),
    outPerS: rate(finished, previous?.finished),
    added,
    finished,
  };
}

export async function readSeries(redis: Redis, stream: string, points = SERIES_POINTS): Promise<QueueSample[]> {
  const raw = await redis.lrange(seriesKey(stream), 0, points - 1);
  const out: QueueSample[] = [];
  for (const line of raw.reverse()) {
    try {
      const p = JSON.parse(line) as StoredPoint;
      out.push({
        at: p.at,
        length: p.length,
        lag: p.lag,
        pending: p.pending,
        deadLetters: p.deadLetters,
        inPerS: p.inPerS,
        outPerS: p.outPerS,
      });
    } catch {
      // a corrupt point is skipped, not fatal to the chart
    }
  }
  return out;
}

/** Takes one sample of every stream if no other process took this interval's; returns whether it did. */
export async function sampleOnce(redis: Redis, namespace: string, intervalMs: number, now = Date.now()): Promise<boolean> {
  const slot = Math.floor(now / intervalMs);
  const won = await redis.set(`${namespace}:q:sampled:${slot}`, "1", "PX", intervalMs * 2, "NX");
  if (won !== "OK") return false;
  const streams = await listStreams(redis, namespace);
  const figures = await collectFigures(redis, streams);
  const lastPipe = redis.pipeline();
  for (const f of figures) lastPipe.lindex(seriesKey(f.stream), 0);
  const last = (await lastPipe.exec()) ?? [];
  const write = redis.pipeline();
  figures.forEach((f, i) => {
    let previous: StoredPoint | null = null;
    try {
      previous = last[i]?.[1] ? (JSON.parse(String(last[i]![1])) as StoredPoint) : null;
    } catch {
      previous = null;
    }
    write.lpush(seriesKey(f.stream), JSON.stringify(samplePoint(f, previous, now)));
    write.ltrim(seriesKey(f.stream), 0, SERIES_POINTS - 1);
  });
  await write.exec();
  await publishEvent(redis, namespace, { v: 1, type: "queues.sampled", namespace, at: now });
  return true;
}

export interface QueueSampler {
  stop(): Promise<void>;
}

export function startQueueSampler(opts: {
  redis: Redis;
  namespace: string;
  intervalMs?: number;
  log?: (line: string) => void;
}): QueueSampler {
  const intervalMs = opts.intervalMs ?? 1_000;
  let stopped = false;
  let failing = false;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    if (stopped) return;
    running = sampleOnce(opts.redis, opts.namespace, intervalMs)
      .then(() => {
        failing = false;
      })
      .catch((err: unknown) => {
        // Say it once per outage, not once a second.
        if (!failing) opts.log?.(`[queues] sampling failed: ${errorMessage(err)}`);
        failing = true;
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs - (Date.now() % intervalMs) + 5);
      });
  };
  let timer = setTimeout(tick, intervalMs - (Date.now() % intervalMs) + 5);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
