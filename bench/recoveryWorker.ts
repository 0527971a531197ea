// Recovery benchmark victim: starts `count` transfers on disjoint accounts and freezes
// each at a protocol step (half after PREPARE, half after the COMMIT decision), then
// reports so the parent can SIGKILL it with all of them in flight.
import { createEngineStack } from "../server/engine/createEngine";
import { applyLeg } from "../server/sim/transfer";

const args = JSON.parse(process.argv[2] ?? "{}") as {
  databaseUrl: string;
  redisUrl: string;
  shards: { name: string; url: string }[];
  count: number;
};
let frozen = 0;
const freeze = () => {
  if (++frozen === args.count) process.stdout.write(`frozen ${frozen}\n`);
  return new Promise<void>(() => undefined);
};
const afterPrepareIds = new Set<string>();
const stack = createEngineStack({
  ...args,
  poolSize: 32,
  hooks: {
    afterPrepare: (id) => {
      if (!afterPrepareIds.delete(id)) return; // freeze once, after the first vote
      return freeze();
    },
    afterDecision: (id) => (afterPrepareIds.has(id) ? undefined : freeze()),
  },
});
await stack.engine.start();
const [a, b] = stack.engine.shardNames as [string, string];
for (let i = 0; i < args.count; i++) {
  void (async () => {
    const tx = await stack.engine.begin({ label: "transfer", timeoutMs: 600_000 });
    if (i % 2 === 0) afterPrepareIds.add(tx.id);
    await tx.run(a, (c) => applyLeg(c, tx.id, 2 * i, -1));
    await tx.run(b, (c) => applyLeg(c, tx.id, 2 * i + 1, 1));
    await tx.commit();
  })().catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
}
setTimeout(() => process.exit(3), 120_000);
