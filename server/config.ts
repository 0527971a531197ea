// The only module that reads process.env (DESIGN.md §8). Everything else receives
// configuration as arguments, so tests and child processes can build their own.
import { z } from "zod";
import { DEFAULT_NAMESPACE, NAMESPACE_PATTERN } from "./participants/gid";

const shardList = z.string().transform((raw, ctx) => {
  const shards: { name: string; url: string }[] = [];
  for (const part of raw.split(/[;,\s]+/).filter(Boolean)) {
    const eq = part.indexOf("=");
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    if (eq <= 0 || !/^[a-z][a-z0-9_-]{0,30}$/.test(name) || !/^postgres(ql)?:\/\//.test(url)) {
      ctx.addIssue({
        code: "custom",
        message: `expected name=postgres://… pairs separated by ';' (bad entry "${part}")`,
      });
      return z.NEVER;
    }
    shards.push({ name, url });
  }
  return shards;
});

const intFrom = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: "must be a whole number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(def);

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// URL")
    .optional(),
  SHARD_URLS: shardList.optional(),
  COHORT_DATA_DIR: z.string().default(".cohort"),
  /**
   * The deployment's name in every gid, Redis key and channel, so deployments (one per
   * coordinator database) can share shard databases and a Redis server. At most 31
   * characters: the longest gid then stays far within PostgreSQL's 200 bytes.
   */
  COHORT_NAMESPACE: z
    .string()
    .regex(NAMESPACE_PATTERN, "must be 1-31 characters: a lower-case letter, then lower-case letters, digits, '-' or '_'")
    .default(DEFAULT_NAMESPACE),
  COHORT_SHARDS: intFrom(4, 1),
  HOST: z.string().default("localhost"),
  PORT: intFrom(3000, 0, 65_535),
  ENGINE_LEASE_MS: intFrom(3000, 500),
  ENGINE_HEARTBEAT_MS: intFrom(1000, 100),
  ENGINE_TX_TIMEOUT_MS: intFrom(30_000, 100),
  SIM_ENABLED: z.enum(["0", "1"]).default("1"),
  SIM_RATE: intFrom(20),
  SIM_CONCURRENCY: intFrom(8, 1),
  SIM_ACCOUNTS: intFrom(1000, 2),
  /** Phase-2 deliveries of one branch before its queue entry moves to the dead-letter stream. */
  COHORT_PHASE2_MAX_DELIVERIES: intFrom(20, 1),
  /**
   * A pending queue entry idle this long belongs to a dead consumer and is reclaimed (XAUTOCLAIM).
   * Above the longest phase-2 backoff (10 s), or live consumers' retries would be stolen.
   */
  COHORT_QUEUE_RECLAIM_IDLE_MS: intFrom(30_000, 10_001),
  /** RabbitMQ broker whose queues the Queues page shows beside the streams (amqp://user:pass@host:5672/vhost). */
  COHORT_RABBITMQ_URL: z
    .string()
    .regex(/^amqps?:\/\//, "must be an amqp:// URL")
    .optional(),
  /** RabbitMQ queues to watch, separated by commas. */
  COHORT_RABBITMQ_QUEUES: z
    .string()
    .default("")
    .transform((s) => s.split(/[,\s]+/).filter(Boolean)),
  /** RabbitMQ management API (http://user:pass@host:15672), for unacknowledged counts AMQP does not report. */
  COHORT_RABBITMQ_MANAGEMENT_URL: z
    .string()
    .regex(/^https?:\/\//, "must be an http:// URL")
    .optional(),
  /** Gives the demo users admin, operator and viewer this password (end-to-end tests); unset: random ones, printed once. */
  COHORT_DEMO_PASSWORD: z.string().min(12, "must be at least 12 characters").max(256).optional(),
});

export type Config = z.infer<typeof schema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    // One line per start failure: the variable and what is wrong with it, never its value (it may hold a password).
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`);
    throw new Error(`invalid environment: ${problems.join("; ")}`);
  }
  return parsed.data;
}
