// The setup the 2PC benchmarks share (bench engine, bench queues): a scratch environment,
// an engine on it, and the bank's accounts seeded where the ring puts them, as the demo does.
import type { Config } from "../server/config";
import { createEngineStack, type EngineStack } from "../server/engine/createEngine";
import type { EngineOptions } from "../server/engine/types";
import { createScratchEnvironment, type ScratchEnvironment } from "../server/infra/scratchEnvironment";
import { ensureBankSchema, seedAccounts } from "../server/sim/bankSchema";
import { initialPlacement, type AccountPlacement } from "../server/sim/placement";

export interface BankBench {
  env: ScratchEnvironment;
  stack: EngineStack;
  placement: AccountPlacement;
  /** Stops the engine, then drops the scratch databases. */
  close(): Promise<void>;
}

export async function startBankBench(
  config: Config,
  opts: { shards: number; accounts: number; poolSize: number; options?: Partial<EngineOptions> },
): Promise<BankBench> {
  const env = await createScratchEnvironment(config, { purpose: "bench", shards: opts.shards });
  const stack = createEngineStack({ ...env, poolSize: opts.poolSize, options: opts.options });
  const close = async () => {
    await stack.close();
    await env.stop();
  };
  try {
    await stack.engine.start();
    for (const s of stack.shards) await ensureBankSchema(s);
    const placement = await initialPlacement(stack.engine.shardNames);
    await seedAccounts(stack.shards, opts.accounts, placement);
    return { env, stack, placement, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
