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
import { Redis } from "ioredis";
import { loadConfig, type Config } from "../server/config";
import { createEngineStack } from "../server/engine/createEngine";
import type { EngineHooks } from "../server/engine/types";
import { findEndpoints, noEndpointsError, type Endpoints } from "../server/infra/runtimeFile";
import { LockService } from "../server/locks/lockService";
import { injectPhase2Outage } from "../server/sim/faults";
import { waitFor } from "../server/testing/waitFor";
import { INJECT_USAGE, parseInjectArgs, runCli, UsageError, type InjectCommand } from "./cli";

// Every path ends in process.exit: the injecting clients vanish without cleaning up, as a
// crashed holder or a hung coordinator would.
runCli("inject", async () => {
  const command = parseInjectArgs(process.argv.slice(2));
  if (command.kind === "help") return console.log(INJECT_USAGE);
  const config = loadConfig();
  const endpoints = await findEndpoints(config);
  switch (command.kind) {
    case "stuck-lock": {
      if (!endpoints.redisUrl) throw noEndpointsError(config, ["REDIS_URL"]);
      return stuckLock(endpoints.redisUrl, config.COHORT_NAMESPACE, command);
    }
    case "shard-down": {
      // The fault hook lives in the demo's engine (server/sim/faults.ts): nothing else would notice.
      if (!endpoints.demo)
        throw new Error(
          `no running demo found in ${config.COHORT_DATA_DIR}/ (start one with npm start): shard-down works on the demo's engine only`,
        );
      return shardDown(endpoints.demo, config.COHORT_NAMESPACE, command);
    }
    default:
      return stuckTransaction(config, endpoints, command);
  }
});

async function stuckLock(
  redisUrl: string,
  namespace: string,
  command: Extract<InjectCommand, { kind: "stuck-lock" }>,
): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const locks = new LockService({ redis, host: "inject (vanished)", namespace });
  const owner = command.owner ?? randomUUID();
  const key = command.key ?? `drill:stuck-${randomUUID().slice(0, 8)}`;
  const grant = await locks.tryAcquire({ key, owner, mode: "exclusive", ttlMs: command.ttlMs });
  if (!grant) throw new Error(`lock "${key}" is held already: choose another --key`);
  // close() writes the grant to the lock index, which is how the console lists it.
  await locks.close();
  redis.disconnect();
  console.log(JSON.stringify({ key, token: grant.token, owner }));
}

async function shardDown(
  demo: NonNullable<Endpoints["demo"]>,
  namespace: string,
  command: Extract<InjectCommand, { kind: "shard-down" }>,
): Promise<void> {
  const known = demo.shards.map((s) => s.name);
  const shard = command.shard ?? known[0];
  if (!shard || !known.includes(shard)) throw new UsageError(`unknown shard "${shard}" (the demo has ${known.join(", ")})`);
  const redis = new Redis(demo.redisUrl, { maxRetriesPerRequest: 2 });
  const until = await injectPhase2Outage(redis, namespace, shard, command.seconds * 1000);
  redis.disconnect();
  console.log(JSON.stringify({ shard, until }));
}

async function stuckTransaction(
  config: Config,
  { databaseUrl, redisUrl, shards }: Endpoints,
  command: Extract<InjectCommand, { kind: "stuck-prepared" | "stuck-decided" }>,
): Promise<void> {
  if (!databaseUrl || !redisUrl || !shards) throw noEndpointsError(config, ["DATABASE_URL", "REDIS_URL", "SHARD_URLS"]);
  if (shards.length < 2) throw new Error(`a stuck transaction needs two shards; there is only ${shards[0]?.name ?? "none"}`);
  const hang = () => new Promise<void>(() => undefined);
  const hooks: EngineHooks = command.kind === "stuck-prepared" ? { afterPrepare: hang } : { afterDecision: hang };
  const stack = createEngineStack({
    databaseUrl,
    redisUrl,
    shards,
    hooks,
    // This process vanishes at once: it must not take phase-2 entries it would never finish.
    options: { namespace: config.COHORT_NAMESPACE, leaseMs: 3_600_000, heartbeatMs: 600_000, consumePhase2Queue: false },
  });
  await stack.engine.start();
  const [a, b] = [shards[0]!.name, shards[1]!.name];
  const tx = await stack.engine.begin({ label: command.label, timeoutMs: 3_600_000 });
  // Read-only work: nothing changes whichever way an operator resolves it, yet both
  // branches are real prepared transactions on their shards.
  await tx.run(a, (c) => c.query("SELECT 1"));
  await tx.run(b, (c) => c.query("SELECT 1"));
  void tx.commit().catch(() => undefined);
  const want = command.kind === "stuck-prepared" ? "PREPARING" : "COMMITTING";
  await waitFor(
    async () => {
      const row = await stack.prisma.transaction.findUnique({ where: { id: tx.id }, select: { status: true } });
      const prepared = await Promise.all(stack.shards.slice(0, 2).map((s) => s.isPrepared(tx.id)));
      return row?.status === want && prepared.every(Boolean);
    },
    15_000,
    `transaction ${tx.id} to reach ${want}`,
  );
  console.log(JSON.stringify({ txId: tx.id, status: want })); // then exit without giving up the lease, like a hung process
}
