// Start-up of the ring in a process that runs an engine (server/main.ts): the first ring
// version if there is none, the live router, accounts moved onto the ring if some are not
// on it (a deployment seeded before the ring existed), and the executor of a rebalance a
// previous process left unfinished. Call after engine.start() and before anything routes.
import type { Redis } from "ioredis";
import type { PrismaClient } from "../db/prisma";
import type { Engine } from "../engine/engine";
import type { PostgresShard } from "../participants/postgresShard";
import { AccountRouter } from "./accountRouter";
import { createHasher } from "./hashRing";
import { initialRingMembers } from "./initialRing";
import { placeStrayAccounts } from "./moveAccount";
import { ensureRing } from "./ringStore";
import { RingService, setRingService, type RingServiceDeps } from "./ringService";

export interface StartRingOptions {
  prisma: PrismaClient;
  redis: Redis;
  engine: Engine;
  shards: PostgresShard[];
  log: (line: string) => void;
  executor?: RingServiceDeps["executor"];
  watchdogMs?: number;
}

export async function startRing(opts: StartRingOptions): Promise<RingService> {
  const { prisma, redis, engine, log } = opts;
  const namespace = engine.options.namespace;
  const hasher = await createHasher();
  const ring = await ensureRing({ prisma, redis, namespace }, hasher, initialRingMembers(engine.shardNames), {
    actor: "system:startup",
    reason: "first ring: every shard of the engine at weight 1",
  });
  // A ring naming a shard this engine was not given (SHARD_URLS changed) routes some keys
  // nowhere: their transactions fail with UNKNOWN_SHARD. Say so loudly; the console can
  // still show the ring and a rebalance onto known shards fixes it.
  const unknown = ring.members.filter((m) => !engine.shardNames.includes(m.name)).map((m) => m.name);
  if (unknown.length > 0)
    log(`[ring] WARNING: ring version ${ring.version} names shards this engine does not know: ${unknown.join(", ")}`);
  const router = await AccountRouter.start({ prisma, redis, namespace, hasher, log });
  await placeStrayAccounts(engine, opts.shards, router, { log });
  const service = new RingService({ ...opts, hasher, router });
  setRingService(service);
  const t = router.routing.transition;
  log(
    `[ring] version ${ring.version}: ${ring.members.map((m) => `${m.name}×${m.weight}`).join(", ")}` +
      (t ? `; rebalance ${t.runId} ${t.status} at cursor ${t.cursor ?? "(start)"}` : ""),
  );
  // An unfinished RUNNING run is resumed here once its previous executor's lease lapses.
  await service.adoptOrphanedRun();
  return service;
}
