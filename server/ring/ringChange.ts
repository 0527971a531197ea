// A membership change as the console sends it, checked with zod. One shape for the what-if
// query string and the rebalance body, so what an operator previews is what gets applied.
import { z } from "zod";
import { numberFromText } from "../http/inputs";
import { MAX_WEIGHT, SHARD_NAME, type RingMember } from "./hashRing";
import type { RingChange } from "./whatIf";

const shard = z.string().trim().regex(SHARD_NAME, "not a shard name (a-z, 0-9, - and _, starting with a letter)");
// Query strings carry the weight as text, bodies as a number.
const weight = numberFromText(
  z
    .number({ error: "weight must be a number" })
    .positive("weight must be more than 0")
    .max(MAX_WEIGHT, `weight must be at most ${MAX_WEIGHT}`),
);

export const ringChangeSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("add"), shard, weight: weight.default(1) }),
  z.object({ op: z.literal("remove"), shard }),
  z.object({ op: z.literal("reweight"), shard, weight }),
]);

export type RingChangeInput = z.infer<typeof ringChangeSchema>;

export function toRingChange(input: RingChangeInput): RingChange {
  if (input.op === "add") return { add: { name: input.shard, weight: input.weight } };
  if (input.op === "remove") return { remove: input.shard };
  return { reweight: { name: input.shard, weight: input.weight } };
}

/** The shards a ring would name that this process cannot move keys to. */
export function unknownShards(members: readonly RingMember[], known: readonly string[]): string[] {
  return members.filter((m) => !known.includes(m.name)).map((m) => m.name);
}

export function describeChange(input: RingChangeInput): string {
  if (input.op === "add") return `add ${input.shard} (weight ${input.weight})`;
  if (input.op === "remove") return `remove ${input.shard}`;
  return `reweight ${input.shard} to ${input.weight}`;
}
