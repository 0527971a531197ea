// Phase-2 delivery entries (DESIGN.md §4): one per branch whose logged decision still has to
// reach its shard. The decision rides in the entry for people reading the queue; the worker
// delivers the coordinator log's decision and refuses an entry that disagrees with it.
import { z } from "zod";
import { streamName } from "./streamQueue";

export function phase2Stream(namespace: string): string {
  return streamName(namespace, "phase2");
}
/** Every engine instance is a consumer of this group, named by its instance id. */
export const PHASE2_GROUP = "engines";

export interface Phase2Entry {
  tx: string;
  shard: string;
  decision: "COMMIT" | "ABORT";
  label: string;
}

const schema = z.object({
  tx: z.uuid(),
  shard: z.string().min(1).max(64),
  decision: z.enum(["COMMIT", "ABORT"]),
  label: z.string().max(200).default(""),
});

export function encodePhase2(entry: Phase2Entry): Record<string, string> {
  return { tx: entry.tx, shard: entry.shard, decision: entry.decision, label: entry.label };
}

/** Null for an entry that is not a phase-2 entry (written by hand, or by a newer version). */
export function decodePhase2(fields: Record<string, string>): Phase2Entry | null {
  const parsed = schema.safeParse(fields);
  return parsed.success ? parsed.data : null;
}
