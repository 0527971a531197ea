// A chaos victim: runs the engine and the transfer workload, and SIGKILLs itself at the
// protocol step it was told to (or is killed by the parent at a random moment).
// Configuration comes as one JSON argument so the parent never shares env parsing.
import { createEngineStack } from "../server/engine/createEngine";
import type { EngineHooks } from "../server/engine/types";
import { startWorkload } from "../server/sim/workload";

export interface ChaosWorkerArgs {
  databaseUrl: string;
  redisUrl: string;
  shards: { name: string; url: string }[];
  accounts: number;
  concurrency: number;
  leaseMs: number;
  /** Which step to die at, and on which occurrence of it. */
  killAt: "random" | "branch-work" | "after-prepare" | "after-decision" | "mid-phase2";
  occurrence: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as ChaosWorkerArgs;
let seen = 0;
const die = () => {
  if (++seen === args.occurrence) process.kill(process.pid, "SIGKILL");
};
const hooks: EngineHooks = {};
if (args.killAt === "branch-work") hooks.afterBranchWork = die;
if (args.killAt === "after-prepare") hooks.afterPrepare = die;
if (args.killAt === "after-decision") hooks.afterDecision = die;
if (args.killAt === "mid-phase2") hooks.afterBranchResolved = (_id, _shard, commit) => (commit ? die() : undefined);

const stack = createEngineStack({
  databaseUrl: args.databaseUrl,
  redisUrl: args.redisUrl,
  shards: args.shards,
  options: { leaseMs: args.leaseMs, heartbeatMs: Math.max(100, Math.floor(args.leaseMs / 3)) },
  hooks,
});
await stack.engine.start();
startWorkload(stack.engine, { accounts: args.accounts, concurrency: args.concurrency, rate: 0 });
process.stdout.write("ready\n");
// Never exit on our own: the parent or a hook ends us. A hang guard keeps CI safe.
setTimeout(() => process.exit(3), 60_000);
