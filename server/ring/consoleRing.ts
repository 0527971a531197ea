// The ring's dependencies as the console's route handlers get them: the runtime's clients
// (server/runtime.ts) and this process's ring service (started by server/main.ts).
import { CohortError } from "../errors";
import { getRuntime } from "../runtime";
import { createHasher } from "./hashRing";
import type { RingActionDeps } from "./ringActions";
import { findRingService } from "./ringService";
import type { RingViewDeps } from "./ringView";

export async function consoleRingView(): Promise<RingViewDeps> {
  const runtime = getRuntime();
  const service = findRingService();
  return {
    prisma: runtime.prisma,
    shards: runtime.shards,
    // Reads need no service: the hasher is the same wasm module everywhere.
    hasher: service?.hasher ?? (await createHasher()),
    knownShards: runtime.shardNames,
  };
}

export function consoleRingActions(): RingActionDeps {
  const runtime = getRuntime();
  const service = findRingService();
  if (!service)
    throw new CohortError("ENGINE_STOPPED", "this console runs no engine, so it cannot move keys: use a console that does");
  return {
    prisma: runtime.prisma,
    redis: runtime.redis,
    shards: runtime.shards,
    hasher: service.hasher,
    knownShards: service.knownShards,
    service,
  };
}
