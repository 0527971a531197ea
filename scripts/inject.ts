// npm run inject -- <stuck-prepared|stuck-decided> [--label L]
// npm run inject -- stuck-lock [--key K] [--owner TXID] [--ttl-ms MS]
// npm run inject -- shard-down [--shard S] [--seconds N]
// Fault injection against the running demo (or DATABASE_URL/SHARD_URLS/REDIS_URL): leaves a
// real two-shard transaction stuck the way a hung coordinator would, for drills and for the
// end-to-end tests of in-doubt resolution. The injecting engine instance claims a one-hour
// lease and then vanishes, so no live engine takes the transaction over: only an operator
// can resolve it. Prints {"txId": …} on stdout.
//
// stuck-lock takes an exclusive lock with a long lease (10 min by default) for an owner
// that then vanishes, as a crashed holder would, so only its TTL or an operator's release
// frees it. The owner is a random transaction id with no log row unless --owner names one
// (e.g. a stuck-prepared transaction, to see the console refuse the release). Prints
// {"key", "token", "owner"}.
//
// shard-down makes the demo's engine treat one shard as unreachable for phase-two delivery
// for N seconds (20 by default) while the workload keeps preparing branches there, so
// decisions pile up in the phase-2 stream and drain when it ends (the demo's fault hooks,
// server/sim/faults.ts). Prints {"shard", "until"}.
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { loadConfig } from "../server/config";
import { createEngineStack } from "../server/engine/createEngine";
import type { EngineHooks } from "../server/engine/types";
import { errorMessage } from "../server/errors";
import { readRuntimeFile } from "../server/infra/runtimeFile";
import { LockService } from "../server/locks/lockService";
import { injectPhase2Outage } from "../server/sim/faults";
import { waitFor } from "../server/testing/waitFor";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    label: { type: "string", default: "drill" },
    key: { type: "string" },
    owner: { type: "string" },
    "ttl-ms": { type: "string", default: "600000" },
    shard: { type: "string" },
    seconds: { type: "string", default: "20" },
  },
});
const kind = positionals[0];
if (kind !== "stuck-prepared" && kind !== "stuck-decided" && kind !== "stuck-lock" && kind !== "shard-down") {
  console.error(
    "usage: npm run inject -- <stuck-prepared|stuck-decided> [--label L]\n" +
      "       npm run inject -- stuck-lock [--key K] [--owner TXID] [--ttl-ms MS]\n" +
      "       npm run inject -- shard-down [--shard S] [--seconds N]\n" +
      "  stuck-prepared  both branches prepared, no decision (force-commit or force-abort)\n" +
      "  stuck-decided   COMMIT logged, phase two never delivered (retry)\n" +
      "  stuck-lock      an exclusive lock whose holder vanished (release it on the Locks page)\n" +
      "  shard-down      phase two cannot reach a shard for N seconds: watch the Queues page",
  );
  process.exit(2);
}

if (kind === "stuck-lock") {
  try {
    const config = loadConfig();
    const redisUrl = config.REDIS_URL ?? (await readRuntimeFile(config.COHORT_DATA_DIR))?.redisUrl;
    if (!redisUrl) throw new Error("no running demo found (start it with npm start) and REDIS_URL is not set");
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
    const locks = new LockService({ redis, host: "inject (vanished)" });
    const owner = values.owner ?? randomUUID();
    const key = values.key ?? `drill:stuck-${randomUUID().slice(0, 8)}`;
    const grant = await locks.tryAcquire({ key, owner, mode: "exclusive", ttlMs: Number(values["ttl-ms"]) });
    if (!grant) throw new Error(`lock "${key}" is held already: choose another --key`);
    // close() writes the grant to the lock index, which is how the console lists it.
    await locks.close();
    redis.disconnect();
    console.log(JSON.stringify({ key, token: grant.token, owner }));
    process.exit(0); // vanish without releasing, like a crashed holder
  } catch (err) {
    console.error(`inject: ${errorMessage(err)}`);
    process.exit(1);
  }
}

if (kind === "shard-down") {
  try {
    const config = loadConfig();
    const running = await readRuntimeFile(config.COHORT_DATA_DIR);
    if (!running) throw new Error("no running demo found (start it with npm start): shard-down works on the demo's engine only");
    const seconds = Number(values.seconds);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new Error("--seconds must be between 1 and 3600");
    const shard = values.shard ?? running.shards[0]?.name;
    if (!shard || !running.shards.some((s) => s.name === shard)) {
      throw new Error(`unknown shard "${shard}" (known: ${running.shards.map((s) => s.name).join(", ")})`);
    }
    const redis = new Redis(running.redisUrl, { maxRetriesPerRequest: 2 });
    const until = await injectPhase2Outage(redis, "cohort", shard, seconds * 1000);
    redis.disconnect();
    console.log(JSON.stringify({ shard, until }));
    process.exit(0);
  } catch (err) {
    console.error(`inject: ${errorMessage(err)}`);
    process.exit(1);
  }
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
    // This process vanishes at once: it must not take phase-2 entries it would never finish.
    options: { leaseMs: 3_600_000, heartbeatMs: 600_000, consumePhase2Queue: false },
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
