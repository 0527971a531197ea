// npm run inject -- <stuck-prepared|stuck-decided> [--label L]
// Fault injection against the running demo (or DATABASE_URL/SHARD_URLS/REDIS_URL): leaves a
// real two-shard transaction stuck the way a hung coordinator would, for drills and for the
// end-to-end tests of in-doubt resolution. The injecting engine instance claims a one-hour
// lease and then vanishes, so no live engine takes the transaction over: only an operator
// can resolve it. Prints {"txId": …} on stdout.
import { parseArgs } from "node:util";
import { loadConfig } from "../server/config";
import { createEngineStack } from "../server/engine/createEngine";
import type { EngineHooks } from "../server/engine/types";
import { errorMessage } from "../server/errors";
import { readRuntimeFile } from "../server/infra/runtimeFile";
import { waitFor } from "../server/testing/waitFor";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { label: { type: "string", default: "drill" } } });
const kind = positionals[0];
if (kind !== "stuck-prepared" && kind !== "stuck-decided") {
  console.error(
    "usage: npm run inject -- <stuck-prepared|stuck-decided> [--label L]\n" +
      "  stuck-prepared  both branches prepared, no decision (force-commit or force-abort)\n" +
      "  stuck-decided   COMMIT logged, phase two never delivered (retry)",
  );
  process.exit(2);
}

try {
  const config = loadConfig();
  const running = await readRuntimeFile(config.COHORT_DATA_DIR);
  const databaseUrl = config.DATABASE_URL ?? running?.databaseUrl;
  const redisUrl = config.REDIS_URL ?? running?.redisUrl;
  const shards = config.SHARD_URLS ?? running?.shards;
  if (!databaseUrl || !redisUrl || !shards || shards.length < 2) {
    throw new Error("no running demo found (start it with npm start) and DATABASE_URL, REDIS_URL and SHARD_URLS are not all set");
  }
  const hang = () => new Promise<void>(() => undefined);
  const hooks: EngineHooks = kind === "stuck-prepared" ? { afterPrepare: hang } : { afterDecision: hang };
  const stack = createEngineStack({
    databaseUrl,
    redisUrl,
    shards,
    hooks,
    options: { leaseMs: 3_600_000, heartbeatMs: 600_000 },
  });
  await stack.engine.start();
  const [a, b] = [shards[0]!.name, shards[1]!.name];
  const tx = await stack.engine.begin({ label: values.label, timeoutMs: 3_600_000 });
  // Read-only work: nothing changes whichever way an operator resolves it, yet both
  // branches are real prepared transactions on their shards.
  await tx.run(a, (c) => c.query("SELECT 1"));
  await tx.run(b, (c) => c.query("SELECT 1"));
  void tx.commit().catch(() => undefined);
  const want = kind === "stuck-prepared" ? "PREPARING" : "COMMITTING";
  await waitFor(
    async () => {
      const row = await stack.prisma.transaction.findUnique({ where: { id: tx.id }, select: { status: true } });
      const prepared = await Promise.all(stack.shards.slice(0, 2).map((s) => s.isPrepared(tx.id)));
      return row?.status === want && prepared.every(Boolean);
    },
    15_000,
    `transaction ${tx.id} to reach ${want}`,
  );
  console.log(JSON.stringify({ txId: tx.id, status: want }));
  process.exit(0); // vanish without giving up the lease, like a hung process
} catch (err) {
  console.error(`inject: ${errorMessage(err)}`);
  process.exit(1);
}
