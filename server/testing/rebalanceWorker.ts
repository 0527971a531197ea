// A rebalance executor in its own process, with its own engine, for the crash test
// (server/ring/rebalanceWorkload.integration.test.ts): it SIGKILLs itself right after the
// COMMIT decision of its n-th move, so that move is decided but not delivered to the
// shards, its cursor is not written, and its executor lease and engine lease are left
// to lapse. Configuration comes as one JSON argument, as for scripts/chaosWorker.ts.
import { createEngineStack } from "../engine/createEngine";
import { createHasher } from "../ring/hashRing";
import { accountMover } from "../ring/moveAccount";
import { runRebalance } from "../ring/rebalanceRunner";

interface WorkerArgs {
  databaseUrl: string;
  redisUrl: string;
  shards: { name: string; url: string }[];
  /** The parent's namespace: its engine finishes this one's moves, so their gids must match. */
  namespace: string;
  runId: string;
  /** Die after the COMMIT decision of this move (1-based). */
  killAtMove: number;
  engineLeaseMs: number;
  executorLeaseMs: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as WorkerArgs;
let decided = 0;
const stack = createEngineStack({
  databaseUrl: args.databaseUrl,
  redisUrl: args.redisUrl,
  shards: args.shards,
  options: {
    namespace: args.namespace,
    leaseMs: args.engineLeaseMs,
    heartbeatMs: Math.max(100, Math.floor(args.engineLeaseMs / 3)),
  },
  // Every transaction of this engine is a move.
  hooks: {
    afterDecision: () => {
      if (++decided === args.killAtMove) process.kill(process.pid, "SIGKILL");
    },
  },
});
await stack.engine.start();
const hasher = await createHasher();
process.stdout.write("ready\n");
const outcome = await runRebalance({
  prisma: stack.prisma,
  redis: stack.redis,
  namespace: args.namespace,
  hasher,
  runId: args.runId,
  ...accountMover({ engine: stack.engine, shards: stack.shards }),
  executorId: `worker:${process.pid}`,
  leaseMs: args.executorLeaseMs,
  pageSize: 50,
  progressEveryMs: 0,
});
// Reaching here means the kill point was never reached: the parent treats that as a failure.
process.stdout.write(`finished ${JSON.stringify(outcome)}\n`);
await stack.close();
process.exit(0);
