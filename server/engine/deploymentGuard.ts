// One namespace, one deployment. A deployment is one coordinator database; its namespace
// (COHORT_NAMESPACE) is in every gid and Redis key it writes. Two coordinator databases
// given the same namespace by mistake would each take the other's prepared branches for
// orphans ("no record in the log") and roll them back, and consume each other's phase-2
// entries. So each engine, before it resolves anything, claims its namespace for its
// coordinator database's id:
//   - on each shard database, in the table cohort_deployments (created on first use);
//   - in Redis, under `<namespace>:deployment` (SET NX).
// A claim held by another id refuses the start (CONFLICT, naming COHORT_NAMESPACE).
//
// What it guards: a second coordinator database with a namespace already claimed on any
// shard or Redis it shares. What it does not: a byte-for-byte copy of a coordinator
// database (a restored backup carries the same id and is treated as the same deployment),
// and a Redis that lost its data (the claim is re-made by the next engine start; the shard
// claims, which are what protects committed data, are durable). Claims are never released
// by Cohort: moving a namespace to a new coordinator database is a deliberate act
// (DELETE FROM cohort_deployments WHERE namespace = …; DEL <namespace>:deployment).
//
// Claims are plain autocommit statements on the control connection: never part of a
// prepared transaction, so no reconciliation (Cohort's or another system's) touches them.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type pg from "pg";
import { CohortError, errorMessage, isCohortError } from "../errors";
import type { LockService } from "../locks/lockService";
import type { PostgresShard } from "../participants/postgresShard";

export interface DeploymentIdentity {
  /** The coordinator database's deployment id (table `deployment`, migration 0006). */
  id: string;
  /** Where that database lives, for the refusal message: never credentials. */
  coordinator: string;
}

export interface NamespaceClaim {
  deploymentId: string;
  coordinator: string;
  claimedAt: string;
}

export const SHARD_CLAIMS_TABLE = "cohort_deployments";

export function redisClaimKey(namespace: string): string {
  return `${namespace}:deployment`;
}

/**
 * This coordinator database's id, made by the first engine that asks (clones of a template
 * each get their own), and the namespace it was made for: one coordinator database, one
 * namespace, or transactions prepared under the old one would never be finished.
 */
export async function deploymentIdentity(pool: pg.Pool, namespace: string): Promise<DeploymentIdentity> {
  // Two statements, not one: a concurrent first insert that wins the conflict commits after
  // this statement's snapshot, so only a later statement is sure to see it.
  await pool.query("INSERT INTO deployment (id, namespace) VALUES ($1::uuid, $2) ON CONFLICT (singleton) DO NOTHING", [
    randomUUID(),
    namespace,
  ]);
  const { rows } = await pool.query<{ id: string; namespace: string; db: string; addr: string | null; port: number | null }>(
    `SELECT id::text, namespace, current_database() AS db, host(inet_server_addr()) AS addr, inet_server_port() AS port
     FROM deployment`,
  );
  const row = rows[0];
  if (!row?.id) throw new Error("the coordinator database has no deployment id (is migration 0006 applied?)");
  const where = row.addr ? `${row.addr}:${row.port ?? "?"}` : "a local socket";
  const coordinator = `database "${row.db}" at ${where}`;
  if (row.namespace !== namespace) {
    throw new CohortError(
      "CONFLICT",
      `COHORT_NAMESPACE is "${namespace}" but the coordinator ${coordinator} belongs to namespace "${row.namespace}": ` +
        `its unfinished transactions' gids carry that name. Start with COHORT_NAMESPACE=${row.namespace}, or, once no ` +
        `transaction is unfinished, change it deliberately (UPDATE deployment SET namespace = '${namespace}').`,
      { details: { namespace, coordinatorNamespace: row.namespace, deploymentId: row.id } },
    );
  }
  return { id: row.id, coordinator };
}

function refusal(namespace: string, where: string, mine: DeploymentIdentity, owner: NamespaceClaim): CohortError {
  return new CohortError(
    "CONFLICT",
    `COHORT_NAMESPACE "${namespace}" on ${where} belongs to another deployment (coordinator ${owner.coordinator}, ` +
      `deployment ${owner.deploymentId}, claimed ${owner.claimedAt}); this coordinator is ${mine.coordinator} ` +
      `(deployment ${mine.id}). Two coordinator databases sharing a shard or Redis need different COHORT_NAMESPACE values.`,
    { details: { namespace, where, owner, deploymentId: mine.id } },
  );
}

/** Claims `namespace` in Redis for this deployment, or refuses. Idempotent. */
export async function claimRedis(redis: Redis, namespace: string, mine: DeploymentIdentity): Promise<void> {
  const key = redisClaimKey(namespace);
  const claim: NamespaceClaim = { deploymentId: mine.id, coordinator: mine.coordinator, claimedAt: new Date().toISOString() };
  await redis.set(key, JSON.stringify(claim), "NX");
  const held = await redis.get(key);
  const owner = parseClaim(held);
  if (!owner) throw new Error(`Redis key ${key} holds no deployment claim: ${held === null ? "it vanished" : "unreadable"}`);
  if (owner.deploymentId !== mine.id) throw refusal(namespace, "Redis", mine, owner);
}

/** Claims `namespace` on one shard database for this deployment, or refuses. Idempotent. */
export async function claimShard(shard: PostgresShard, mine: DeploymentIdentity): Promise<void> {
  await ensureClaimsTable(shard);
  // Insert, then read in a new statement (and so a new snapshot): see deploymentIdentity.
  await shard.query(
    `INSERT INTO ${SHARD_CLAIMS_TABLE} (namespace, deployment_id, coordinator) VALUES ($1, $2::uuid, $3)
     ON CONFLICT (namespace) DO NOTHING`,
    [shard.namespace, mine.id, mine.coordinator],
  );
  const { rows } = await shard.query<{ deployment_id: string; coordinator: string; claimed_at: Date }>(
    `SELECT deployment_id::text, coordinator, claimed_at FROM ${SHARD_CLAIMS_TABLE} WHERE namespace = $1`,
    [shard.namespace],
  );
  const row = rows[0];
  if (!row) throw new Error(`shard ${shard.name}: the namespace claim was neither made nor found`);
  if (row.deployment_id !== mine.id) {
    const owner = { deploymentId: row.deployment_id, coordinator: row.coordinator, claimedAt: row.claimed_at.toISOString() };
    throw refusal(shard.namespace, `shard ${shard.name}`, mine, owner);
  }
}

/** Reads the owner of `namespace` on a shard (tests, tools); null when unclaimed. */
export async function shardClaim(shard: PostgresShard, namespace: string): Promise<NamespaceClaim | null> {
  const { rows } = await shard.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [SHARD_CLAIMS_TABLE]);
  if (!rows[0]?.exists) return null;
  const claim = await shard.query<{ deployment_id: string; coordinator: string; claimed_at: Date }>(
    `SELECT deployment_id::text, coordinator, claimed_at FROM ${SHARD_CLAIMS_TABLE} WHERE namespace = $1`,
    [namespace],
  );
  const row = claim.rows[0];
  return row ? { deploymentId: row.deployment_id, coordinator: row.coordinator, claimedAt: row.claimed_at.toISOString() } : null;
}

/**
 * Creates the claims table unless it exists. Checked first so that a shard role without
 * CREATE works once an administrator made the table; concurrent creators race on the
 * catalog's unique index (23505) or on the name (42P07), and either means it now exists.
 */
async function ensureClaimsTable(shard: PostgresShard): Promise<void> {
  const { rows } = await shard.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [SHARD_CLAIMS_TABLE]);
  if (rows[0]?.exists) return;
  try {
    await shard.query(
      `CREATE TABLE IF NOT EXISTS ${SHARD_CLAIMS_TABLE} (
         namespace text PRIMARY KEY,
         deployment_id uuid NOT NULL,
         coordinator text NOT NULL,
         claimed_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "23505" || code === "42P07") return;
    if (code === "42501") {
      throw new Error(
        `shard ${shard.name}: no right to create the table ${SHARD_CLAIMS_TABLE} that records which deployment owns each namespace; ` +
          `create it as an administrator: CREATE TABLE ${SHARD_CLAIMS_TABLE} (namespace text PRIMARY KEY, deployment_id uuid NOT NULL, ` +
          `coordinator text NOT NULL, claimed_at timestamptz NOT NULL DEFAULT now()), and grant SELECT, INSERT on it`,
      );
    }
    throw err;
  }
}

/**
 * An engine whose shards or locks were built with another namespace than its own would
 * prepare under one name and reconcile under another: a wiring mistake, refused at once.
 */
export function assertOneNamespace(namespace: string, shards: PostgresShard[], locks: LockService | undefined): void {
  const wrong = [
    ...shards.filter((s) => s.namespace !== namespace).map((s) => `shard ${s.name} has "${s.namespace}"`),
    ...(locks && locks.namespace !== namespace ? [`the lock service has "${locks.namespace}"`] : []),
  ];
  if (wrong.length > 0) throw new Error(`engine namespace is "${namespace}" but ${wrong.join(", ")}`);
}

function parseClaim(raw: string | null): NamespaceClaim | null {
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<NamespaceClaim>;
    if (typeof parsed.deploymentId !== "string") return null;
    return {
      deploymentId: parsed.deploymentId,
      coordinator: String(parsed.coordinator ?? "unknown"),
      claimedAt: String(parsed.claimedAt ?? "unknown"),
    };
  } catch {
    return null;
  }
}

/**
 * The claims an engine holds: all of them before start returns (a refusal is fatal there),
 * and per shard before each reconciliation, so a shard that was down at start is claimed
 * before its prepared transactions are ever resolved as orphans.
 */
export class DeploymentGuard {
  private identity: DeploymentIdentity | null = null;
  private readonly claimedShards = new Set<string>();
  private redisClaimed = false;

  constructor(private readonly deps: { pool: pg.Pool; redis: Redis; namespace: string }) {}

  /**
   * Looks at every claim before making any, so a refused start leaves no claim of its own
   * behind (which would lock the rightful owner out after, say, a Redis data loss). Two
   * misconfigured deployments starting at the same instant may each win some claims; both
   * are then refused, which is safe and needs a person.
   *
   * A shard that cannot be asked is left out and returned: it is claimed before its first
   * reconciliation (ensureShard), the only path that resolves what the log does not know.
   */
  async claimAll(shards: PostgresShard[]): Promise<{ unclaimed: { shard: string; error: string }[] }> {
    const mine = await this.mine();
    const { redis, namespace } = this.deps;
    const redisOwner = parseClaim(await redis.get(redisClaimKey(namespace)));
    if (redisOwner && redisOwner.deploymentId !== mine.id) throw refusal(namespace, "Redis", mine, redisOwner);
    const unclaimed: { shard: string; error: string }[] = [];
    const reachable: PostgresShard[] = [];
    for (const shard of shards) {
      let owner: NamespaceClaim | null;
      try {
        owner = await shardClaim(shard, namespace);
      } catch (err) {
        unclaimed.push({ shard: shard.name, error: errorMessage(err) });
        continue;
      }
      if (owner && owner.deploymentId !== mine.id) throw refusal(namespace, `shard ${shard.name}`, mine, owner);
      reachable.push(shard);
    }
    await this.ensureRedis();
    for (const shard of reachable) {
      try {
        await this.ensureShard(shard);
      } catch (err) {
        if (isCohortError(err, "CONFLICT")) throw err;
        unclaimed.push({ shard: shard.name, error: errorMessage(err) });
      }
    }
    return { unclaimed };
  }

  async ensureRedis(): Promise<void> {
    if (this.redisClaimed) return;
    await claimRedis(this.deps.redis, this.deps.namespace, await this.mine());
    this.redisClaimed = true;
  }

  /**
   * Makes the Redis claim again (SET NX, then read): after a Redis data loss the owner
   * takes its namespace back within one reconciliation interval rather than at its next
   * start, narrowing the window in which a misconfigured deployment could take it.
   */
  async reassertRedis(): Promise<void> {
    await claimRedis(this.deps.redis, this.deps.namespace, await this.mine());
    this.redisClaimed = true;
  }

  async ensureShard(shard: PostgresShard): Promise<void> {
    if (this.claimedShards.has(shard.name)) return;
    await claimShard(shard, await this.mine());
    this.claimedShards.add(shard.name);
  }

  private async mine(): Promise<DeploymentIdentity> {
    return (this.identity ??= await deploymentIdentity(this.deps.pool, this.deps.namespace));
  }
}
