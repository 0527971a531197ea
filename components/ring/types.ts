// What the Ring page's API answers, as the browser sees it (types only: nothing from the
// server modules reaches the bundle).
export type { RingOverview, RunView, SampleKey, ShardFigures, WhatIfView } from "@/server/ring/ringView";
export type { RingChangeInput } from "@/server/ring/ringChange";
export type { MovedRange } from "@/server/ring/whatIf";
export type { RingRange } from "@/server/ring/hashRing";

export const RING_KEY = ["ring"] as const;
export const WHAT_IF_KEY = ["ring", "what-if"] as const;
