// SIGKILL an engine with `count` transactions in flight (half prepared, half decided),
// start a new instance, and time until every transaction is terminal. The new instance
// uses the default lease (3 s), so the time includes waiting for the dead lease to lapse.
import { spawn } from "node:child_process";
import path from "node:path";
import type { Config } from "../server/config";
import { createEngineStack } from "../server/engine/createEngine";
import { defaultEngineOptions } from "../server/engine/engine";
import { createScratchEnvironment } from "../server/infra/scratchEnvironment";
import { DEFAULT_NAMESPACE } from "../server/participants/gid";
import { PostgresShard } from "../server/participants/postgresShard";
import { ensureBankSchema, seedAccounts } from "../server/sim/bankSchema";
import { moduloPlacement } from "../server/sim/placement";
import { waitFor } from "../server/testing/waitFor";
import { round } from "./stats";

const IN_FLIGHT = 600;

export async function benchRecovery(config: Config, opts: { say: (l: string) => void }) {
  const env = await createScratchEnvironment(config, { purpose: "benchrec", shards: 2 });
  const setup = env.shards.map((s) => new PostgresShard({ ...s, namespace: DEFAULT_NAMESPACE, poolSize: 2 }));
  try {
    for (const s of setup) await ensureBankSchema(s);
    // The worker puts account 2i on the first shard and 2i+1 on the second.
    await seedAccounts(setup, IN_FLIGHT * 2, moduloPlacement(setup.map((s) => s.name)));
    opts.say(`recovery bench: freezing ${IN_FLIGHT} transactions in a child engine…`);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(import.meta.dirname, "recoveryWorker.ts"), JSON.stringify({ ...env, count: IN_FLIGHT })],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => c.toString().includes("frozen") && resolve());
      child.on("exit", (code) => reject(new Error(`recovery worker exited early (${code})`)));
    });
    child.removeAllListeners("exit");
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    const killedAt = performance.now();
    await exited;

    const stack = createEngineStack({ ...env, options: { ...defaultEngineOptions } });
    try {
      const open = () => stack.prisma.transaction.count({ where: { status: { notIn: ["COMMITTED", "ABORTED"] } } });
      const inFlight = await open();
      const prepared = (await Promise.all(setup.map((s) => s.listPrepared()))).flat().length;
      opts.say(`  killed with ${inFlight} transactions in flight and ${prepared} prepared branches; starting a new instance`);
      const startedAt = performance.now();
      await stack.engine.start();
      await waitFor(async () => (await open()) === 0, 60_000, "all transactions terminal");
      const recoveryMs = performance.now() - startedAt;
      const left = (await Promise.all(setup.map((s) => s.listPrepared()))).flat().length;
      const [span] = await stack.prisma.$queryRaw<{ lease_wait_ms: number; work_ms: number }[]>`
        SELECT (EXTRACT(EPOCH FROM (min(at) FILTER (WHERE type = 'takeover') - (SELECT max(started_at) FROM engine_instances))) * 1000)::float8 AS lease_wait_ms,
          (EXTRACT(EPOCH FROM (max(at) FILTER (WHERE type = 'end') - min(at) FILTER (WHERE type = 'takeover'))) * 1000)::float8 AS work_ms
        FROM tx_log`;
      opts.say(
        `  waited ${round(span?.lease_wait_ms ?? NaN, 0)} ms for the dead lease, then finished everything in ${round(span?.work_ms ?? NaN, 0)} ms`,
      );
      return {
        in_flight: inFlight,
        recovery_ms: round(recoveryMs, 0),
        since_kill_ms: round(performance.now() - killedAt, 0),
        lease_ms: defaultEngineOptions.leaseMs,
        prepared_left: left,
      };
    } finally {
      await stack.close();
    }
  } finally {
    await Promise.all(setup.map((s) => s.close()));
    await env.stop();
  }
}
