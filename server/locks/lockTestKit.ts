// For the lock integration tests: lock services on the shared test Redis, each with its
// own connection (as separate processes would have), under a namespace of their own so
// test files running side by side never see each other's locks or indexes.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { inject } from "vitest";
import { LockService, type LockServiceConfig } from "./lockService";

export interface LockTestKit {
  namespace: string;
  redisUrl: string;
  /** A lock service on a connection of its own: one "process". */
  service(opts?: Partial<Omit<LockServiceConfig, "redis">>): LockService;
  /** The service's connection, e.g. to cut it as a crash would. */
  connectionOf(service: LockService): Redis;
  /** A plain connection for checks. */
  redis: Redis;
  cleanup(): Promise<void>;
}

export function lockTestKit(opts: { redisUrl?: string } = {}): LockTestKit {
  const redisUrl = opts.redisUrl ?? inject("redisUrl");
  const namespace = `t${randomBytes(4).toString("hex")}`;
  const connections = new Map<LockService, Redis>();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  redis.on("error", () => undefined); // reconnects by itself (the restart test stops Redis)
  let n = 0;
  return {
    namespace,
    redisUrl,
    redis,
    service: (o = {}) => {
      const connection = new Redis(redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
      connection.on("error", () => undefined);
      const service = new LockService({ redis: connection, host: `test-${++n}`, namespace, waiterHeartbeatMs: 200, ...o });
      connections.set(service, connection);
      return service;
    },
    connectionOf: (service) => {
      const c = connections.get(service);
      if (!c) throw new Error("not a service of this kit");
      return c;
    },
    cleanup: async () => {
      for (const [service, connection] of connections) {
        await service.close().catch(() => undefined);
        connection.disconnect();
      }
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
      redis.disconnect();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
