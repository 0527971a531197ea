// Demo fault injection (npm run inject -- shard-down): makes the engine treat a shard as
// unreachable for phase-two delivery until a deadline, so decisions pile up in the phase-2
// stream while the workload keeps preparing branches there, then drain when it lapses.
// Only the demo wires these hooks; a production engine has none (EngineHooks are unset).
import type { Redis } from "ioredis";
import type { EngineHooks } from "../engine/types";

export function faultsKey(namespace: string): string {
  return `${namespace}:faults`;
}

/** Marks `shard` unreachable for phase two during `ms`. */
export async function injectPhase2Outage(redis: Redis, namespace: string, shard: string, ms: number): Promise<number> {
  const until = Date.now() + ms;
  await redis.hset(faultsKey(namespace), `phase2:${shard}`, String(until));
  return until;
}

export interface FaultHooks {
  hooks: EngineHooks;
  stop(): void;
}

/** Hooks that fail phase-two delivery to shards under an injected outage; polls Redis every `pollMs`. */
export function faultHooks(redis: Redis, namespace: string, pollMs = 250): FaultHooks {
  let outages = new Map<string, number>();
  const refresh = () =>
    redis
      .hgetall(faultsKey(namespace))
      .then((h) => {
        const next = new Map<string, number>();
        for (const [k, v] of Object.entries(h)) if (k.startsWith("phase2:")) next.set(k.slice(7), Number(v));
        outages = next;
      })
      .catch(() => undefined);
  void refresh();
  const timer = setInterval(() => void refresh(), pollMs);
  timer.unref();
  return {
    hooks: {
      beforeResolve: (_txId, shard) => {
        const until = outages.get(shard);
        if (until !== undefined && until > Date.now()) {
          throw new Error(`${shard} unreachable (injected outage for ${Math.ceil((until - Date.now()) / 1000)} s more)`);
        }
      },
    },
    stop: () => clearInterval(timer),
  };
}
