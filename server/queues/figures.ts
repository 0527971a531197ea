// Figures of every stream a namespace's queues use (DESIGN.md §4): length, per group lag,
// pending, oldest pending idle time, delivery counts and consumers. Two pipelined round
// trips whatever the number of streams: XINFO STREAM / XINFO GROUPS / XLEN of the dead
// letters first, then XINFO CONSUMERS and XPENDING for every group found.
import type { Redis } from "ioredis";
import { queueKeys, registryKey } from "./streamQueue";
import type { ConsumerFigures, GroupFigures, StreamFigures } from "./types";

/** How many pending entries per group are looked at for idle times and delivery counts. */
export const PENDING_SAMPLE = 100;

type Flat = (string | number | null | Flat)[];

function toMap(flat: Flat | null | undefined): Map<string, unknown> {
  const m = new Map<string, unknown>();
  if (!Array.isArray(flat)) return m;
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return m;
}

const num = (v: unknown): number => (typeof v === "number" ? v : v == null ? 0 : Number(v) || 0);
const numOrNull = (v: unknown): number | null =>
  v == null ? null : typeof v === "number" ? v : Number.isFinite(Number(v)) ? Number(v) : null;

export function streamKind(stream: string): StreamFigures["kind"] {
  if (stream.endsWith(":q:phase2")) return "phase2";
  if (stream.endsWith(":q:outbox")) return "outbox";
  return "other";
}

export async function listStreams(redis: Redis, namespace: string): Promise<string[]> {
  return (await redis.smembers(registryKey(namespace))).sort();
}

export async function collectFigures(redis: Redis, streams: string[]): Promise<StreamFigures[]> {
  if (streams.length === 0) return [];
  const first = redis.pipeline();
  for (const s of streams) {
    first.call("XINFO", "STREAM", s);
    first.call("XINFO", "GROUPS", s);
    first.xlen(queueKeys(s).dead);
  }
  const r1 = (await first.exec()) ?? [];
  const partial = streams.map((stream, i) => {
    const [infoErr, info] = r1[i * 3] ?? [null, null];
    const [groupsErr, groups] = r1[i * 3 + 1] ?? [null, null];
    const dead = num(r1[i * 3 + 2]?.[1]);
    // A registered stream that no longer exists (FLUSHALL, a restart without persistence) reads as empty.
    const m = infoErr ? new Map<string, unknown>() : toMap(info as Flat);
    const groupMaps = groupsErr || !Array.isArray(groups) ? [] : (groups as Flat[]).map((g) => toMap(g));
    return { stream, m, groupMaps, dead };
  });

  const second = redis.pipeline();
  const asked: { s: number; group: string }[] = [];
  partial.forEach((p, s) => {
    for (const g of p.groupMaps) {
      const group = String(g.get("name"));
      asked.push({ s, group });
      second.call("XINFO", "CONSUMERS", p.stream, group);
      second.xpending(p.stream, group, "-", "+", PENDING_SAMPLE);
    }
  });
  const r2 = asked.length > 0 ? ((await second.exec()) ?? []) : [];
  const groupsOf = new Map<number, GroupFigures[]>();
  asked.forEach(({ s, group }, k) => {
    const g = partial[s]!.groupMaps.find((x) => String(x.get("name")) === group)!;
    const consumersRaw = (r2[k * 2]?.[1] as Flat[] | undefined) ?? [];
    const pendingRaw = (r2[k * 2 + 1]?.[1] as [string, string, number, number][] | undefined) ?? [];
    const consumers: ConsumerFigures[] = consumersRaw.map((c) => {
      const cm = toMap(c);
      return {
        name: String(cm.get("name")),
        pending: num(cm.get("pending")),
        idleMs: num(cm.get("idle")),
        inactiveMs: cm.has("inactive") ? numOrNull(cm.get("inactive")) : null,
      };
    });
    const histogram: Record<string, number> = {};
    let maxDeliveries = 0;
    let oldest: number | null = null;
    for (const [, , idle, deliveries] of pendingRaw) {
      histogram[String(deliveries)] = (histogram[String(deliveries)] ?? 0) + 1;
      maxDeliveries = Math.max(maxDeliveries, deliveries);
      oldest = oldest === null ? idle : Math.max(oldest, idle);
    }
    const list = groupsOf.get(s) ?? [];
    list.push({
      name: group,
      lag: numOrNull(g.get("lag")),
      pending: num(g.get("pending")),
      entriesRead: numOrNull(g.get("entries-read")),
      oldestPendingIdleMs: oldest,
      maxDeliveries,
      deliveryHistogram: histogram,
      consumers,
      lastDeliveredId: String(g.get("last-delivered-id") ?? "0-0"),
    });
    groupsOf.set(s, list);
  });

  return partial.map((p, s) => ({
    source: "redis" as const,
    stream: p.stream,
    kind: streamKind(p.stream),
    length: num(p.m.get("length")),
    entriesAdded: num(p.m.get("entries-added")),
    lastId: String(p.m.get("last-generated-id") ?? "0-0"),
    groups: groupsOf.get(s) ?? [],
    deadLetters: p.dead,
  }));
}

/** Entries the stream's groups have finished with (acknowledged or dead-lettered): a counter that only grows. */
export function finishedCount(stream: StreamFigures): number {
  let total = 0;
  for (const g of stream.groups) total += Math.max(0, (g.entriesRead ?? 0) - g.pending);
  return total;
}
