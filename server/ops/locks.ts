// The console's side of the lock service (DESIGN.md §3): listing held locks, one lock's
// holders and FIFO waiters, the wait-for graph, and the operator release of a stuck lock.
//
// Reads and releases need only *a* LockService on the same Redis and namespace: the lock
// state lives in Redis, not in the process that granted it. Holders are annotated with
// their transaction from the coordinator log, because what an operator may do with a lock
// depends on it: a holder with a prepared branch keeps its rows locked in PostgreSQL
// whatever happens to the Redis lease, so releasing the lease would free nothing.
import type { Redis } from "ioredis";
import { z } from "zod";
import { runThenAudit } from "../audit/audited";
import type { PrismaClient } from "../db/prisma";
import { isInDoubtState, isUnresolvedBranch } from "../engine/log/states";
import { CohortError, isCohortError } from "../errors";
import { wholeNumber } from "../http/inputs";
import { assertLockKey, parseHeldMember } from "../locks/keys";
import { pgFencingEpochSource } from "../locks/fencingEpoch";
import { LockService } from "../locks/lockService";
import type { ForcedRelease, HeldLock, LockHolder, LockMode, LockWaiter } from "../locks/types";
import { edgeId, findCycles } from "../locks/waitForGraph";
import type { PostgresShard } from "../participants/postgresShard";
import { getRuntime, type Runtime } from "../runtime";
import type { Operator } from "./actions";

export interface LockOpsDeps {
  prisma: PrismaClient;
  locks: LockService;
  /** The lock service's Redis: its clock judges every lease, and its index lists holders by owner. */
  redis: Redis;
  /** To ask a shard whether a holder's branch is still prepared there. */
  shards: Map<string, PostgresShard>;
}

// ---------------------------------------------------------------------------------------
// Shapes sent to the browser: times are ms on the Redis clock, tokens decimal strings.

/** The holder's transaction as the coordinator log has it; null when it has no row there. */
export interface HolderTx {
  id: string;
  label: string;
  status: string;
  ended: boolean;
}

export interface LockRow extends HeldLock {
  holderTx: HolderTx | null;
}

export interface LockListPage {
  /** Redis time of the read: ages and TTLs are relative to it. */
  now: number;
  locks: LockRow[];
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

/** Why releasing a holder's Redis lock would not free its rows. */
export interface PreparedHolder {
  txId: string;
  status: string;
  /** Shards whose prepared branch holds the rows (asked just now, or the log's word when a shard cannot be asked). */
  preparedOn: string[];
  /** Branches the log does not record as prepared and whose shard could not be asked. */
  unconfirmedOn: string[];
  /** Where the operator resolves it instead. */
  href: string;
}

export interface LockDetailHolder extends LockHolder {
  holderTx: HolderTx | null;
  /** Non-null: releasing this holder is refused (see PreparedHolder). */
  prepared: PreparedHolder | null;
}

export interface LockDetailWaiter extends LockWaiter {
  tx: HolderTx | null;
}

export interface LockDetail {
  key: string;
  now: number;
  /** The last fencing token issued for the key. */
  fence: string;
  holders: LockDetailHolder[];
  /** FIFO order: the first is served next. */
  waiters: LockDetailWaiter[];
  lastForcedRelease: ForcedRelease | null;
}

export interface GraphNode {
  /** The owner (transaction id). */
  id: string;
  tx: HolderTx | null;
  inCycle: boolean;
}

/** All waits of one transaction for another, merged over keys. */
export interface GraphEdge {
  waiter: string;
  holder: string;
  waits: { key: string; via: "holds" | "queuedAhead" }[];
  inCycle: boolean;
}

export interface LockGraph {
  now: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Each cycle as the owners around it, in wait order. */
  cycles: string[][];
}

export interface ReleaseResult {
  key: string;
  released: LockHolder;
  /** Every later grant's token is above this one, so the released holder can never write again. */
  fence: string;
  remaining: LockHolder[];
  at: number;
  message: string;
}

// ---------------------------------------------------------------------------------------

export const LOCK_MODES = ["shared", "exclusive"] as const satisfies readonly LockMode[];
export const LOCK_PAGE_DEFAULT = 100;
export const LOCK_PAGE_MAX = 500;
/** A listing with a rare mode stops after this many held locks and hands back a cursor. */
const MAX_SCANNED = 5_000;
/** Owner lookups read the index members (not the locks) up to this many. */
const MAX_INDEX_MEMBERS = 200_000;
const INDEX_PAGE = 1_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Empty form fields arrive as "" and mean "no filter".
const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const filterText = (max: number) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .max(max)
      // eslint-disable-next-line no-control-regex -- lock keys and owners never hold control characters
      .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), "must not contain control characters")
      .optional(),
  );

/** Query string of GET /api/locks and the Locks page. */
export const lockListQuerySchema = z.object({
  prefix: filterText(512),
  owner: z.preprocess((v) => (typeof v === "string" ? v.trim() : v), filterText(200)),
  mode: z.preprocess(blankToUndefined, z.enum(LOCK_MODES).optional()),
  cursor: z.preprocess(
    blankToUndefined,
    z
      .string()
      .max(4_000)
      .regex(/^[A-Za-z0-9_-]+$/, "must be a cursor from a previous page")
      .optional(),
  ),
  limit: wholeNumber(1, LOCK_PAGE_MAX).optional(),
});

export type LockListQuery = z.infer<typeof lockListQuerySchema>;

/** The console's clients, with the runtime's lock service (see runtimeLockService). */
export function consoleLockDeps(): LockOpsDeps {
  const runtime = getRuntime();
  return {
    prisma: runtime.prisma,
    locks: runtimeLockService(runtime),
    redis: runtime.redis,
    shards: new Map(runtime.shards.map((s) => [s.name, s])),
  };
}

const OWN_SERVICES = Symbol.for("cohort.console.lockServices");

/**
 * The engine's lock service when this process runs one; otherwise one of the console's own
 * on the runtime's Redis in the deployment's namespace, made once per client. It never acquires, so
 * it opens no connection of its own.
 */
function runtimeLockService(runtime: Runtime): LockService {
  if (runtime.locks) return runtime.locks;
  const holder = globalThis as { [OWN_SERVICES]?: WeakMap<Redis, LockService> };
  const services = (holder[OWN_SERVICES] ??= new WeakMap());
  let service = services.get(runtime.redis);
  if (!service) {
    // Operator releases issue tokens too: from the same durable epochs as the engines' (fencingEpoch.ts).
    service = new LockService({
      redis: runtime.redis,
      host: "console",
      namespace: runtime.queues.namespace,
      epochSource: pgFencingEpochSource(runtime.pool),
    });
    services.set(runtime.redis, service);
  }
  return service;
}

/**
 * Held locks in key order. `owner` reads the index members and inspects only that owner's
 * locks (a transaction holds few); otherwise pages come from LockService.listHeld, and a
 * `mode` filter keeps paging until the page is full.
 */
export async function listLocks(deps: LockOpsDeps, query: LockListQuery = {}): Promise<LockListPage> {
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? LOCK_PAGE_DEFAULT), 1), LOCK_PAGE_MAX);
  const now = await redisNow(deps.redis);
  const wanted = (l: HeldLock) => !query.mode || l.mode === query.mode;
  let held: HeldLock[];
  let nextCursor: string | null = null;
  if (query.owner) {
    const owned = (await ownedLocks(deps, query.owner, query.prefix)).filter(wanted);
    held = owned.slice(0, limit);
  } else {
    held = [];
    let cursor = query.cursor ?? null;
    let scanned = 0;
    do {
      const page = await deps.locks.listHeld({ cursor, limit: limit - held.length, prefix: query.prefix ?? "" });
      scanned += page.locks.length;
      held.push(...page.locks.filter(wanted));
      cursor = page.nextCursor;
    } while (cursor && held.length < limit && scanned < MAX_SCANNED);
    nextCursor = cursor;
  }
  const txs = await holderTxs(
    deps.prisma,
    held.map((l) => l.owner),
  );
  return { now, locks: held.map((l) => ({ ...l, holderTx: txs.get(l.owner) ?? null })), nextCursor };
}

/** The locks a transaction holds now, for its detail page. */
export async function locksHeldBy(deps: LockOpsDeps, txId: string): Promise<LockListPage> {
  return listLocks(deps, { owner: txId, limit: LOCK_PAGE_MAX });
}

/** One lock: its holders (with whether each may be released), its waiters in FIFO order, the last operator release. */
export async function lockDetail(deps: LockOpsDeps, key: string): Promise<LockDetail> {
  const state = await deps.locks.inspect(key);
  const txs = await holderTxs(deps.prisma, [...state.holders.map((h) => h.owner), ...state.waiters.map((w) => w.owner)]);
  const holders = await Promise.all(
    state.holders.map(async (h): Promise<LockDetailHolder> => ({
      ...h,
      holderTx: txs.get(h.owner) ?? null,
      prepared: await preparedHolder(deps, h.owner),
    })),
  );
  return {
    key: state.key,
    now: state.now,
    fence: state.fence,
    holders,
    waiters: state.waiters.map((w) => ({ ...w, tx: txs.get(w.owner) ?? null })),
    lastForcedRelease: state.lastForcedRelease,
  };
}

/** Who waits for whom, merged per pair of transactions, with the cycles the detector would break. */
export async function lockGraph(deps: LockOpsDeps): Promise<LockGraph> {
  const [now, edges] = await Promise.all([redisNow(deps.redis), deps.locks.waitForGraph()]);
  const cycles = findCycles(edges);
  const cycleEdges = new Set(cycles.flat().map(edgeId));
  const cycleNodes = new Set(cycles.flat().map((e) => e.waiter));
  const merged = new Map<string, GraphEdge>();
  for (const e of edges) {
    if (e.waiter === e.holder) continue;
    const id = `${e.waiter}\u0000${e.holder}`;
    let edge = merged.get(id);
    if (!edge) merged.set(id, (edge = { waiter: e.waiter, holder: e.holder, waits: [], inCycle: false }));
    if (!edge.waits.some((w) => w.key === e.key && w.via === e.via)) edge.waits.push({ key: e.key, via: e.via });
    edge.inCycle ||= cycleEdges.has(edgeId(e));
  }
  const owners = [...new Set(edges.flatMap((e) => [e.waiter, e.holder]))].sort();
  const txs = await holderTxs(deps.prisma, owners);
  return {
    now,
    nodes: owners.map((id) => ({ id, tx: txs.get(id) ?? null, inCycle: cycleNodes.has(id) })),
    edges: [...merged.values()],
    cycles: cycles.map((c) => c.map((e) => e.waiter)),
  };
}

/**
 * Whether `owner` is a transaction whose prepared branch still holds rows: the coordinator
 * log says it is unfinished in PREPARING, COMMITTING or ABORTING, and a shard holds (or, when
 * it cannot be asked, the log says it holds) a prepared branch of it. Null when releasing its
 * lock is not pointless.
 */
export async function preparedHolder(deps: LockOpsDeps, owner: string): Promise<PreparedHolder | null> {
  if (!UUID.test(owner)) return null;
  const txId = owner.toLowerCase();
  const tx = await deps.prisma.transaction.findUnique({
    where: { id: txId },
    select: {
      status: true,
      endedAt: true,
      branches: { where: { resolvedAt: null }, select: { shard: true, status: true }, orderBy: { shard: "asc" } },
    },
  });
  if (!tx || tx.endedAt || !isInDoubtState(tx.status)) return null;
  const preparedOn: string[] = [];
  const unconfirmedOn: string[] = [];
  await Promise.all(
    tx.branches.map(async (b) => {
      // FAILED voted no (nothing prepared); COMMITTED and ABORTED are resolved.
      if (!isUnresolvedBranch(b.status)) return;
      // The log records votes only at the commit point, so an ACTIVE branch of a PREPARING
      // transaction may well be prepared: the shard is the one to ask.
      const shard = deps.shards.get(b.shard);
      const onShard = shard ? await shard.isPrepared(txId).catch(() => null) : null;
      if (onShard === true || (onShard === null && b.status === "PREPARED")) preparedOn.push(b.shard);
      else if (onShard === null) unconfirmedOn.push(b.shard);
    }),
  );
  if (preparedOn.length === 0 && unconfirmedOn.length === 0) return null;
  return {
    txId,
    status: tx.status,
    preparedOn: preparedOn.sort(),
    unconfirmedOn: unconfirmedOn.sort(),
    href: `/transactions/${txId}`,
  };
}

export interface ReleaseRequest {
  key: string;
  /** The token the operator saw: the release is a compare-and-delete against it. */
  expectedToken: string;
  operator: Operator;
  reason: string;
}

/**
 * The operator release of a stuck lock (DESIGN.md §3): compare-and-delete against the token
 * the operator saw, which advances the fence; refused when the lock changed hands since
 * (STALE_TOKEN) or when its holder's prepared branch still holds the rows (CONFLICT, pointing
 * to the transaction). Every attempt is audited with the reason.
 *
 * The prepared check and the release are not atomic: a holder could prepare in between.
 * That is harmless for correctness, as after the release the fence refuses the old
 * holder's writes on any row a newer holder has touched, and the prepared branch keeps its
 * row locks until the transaction is resolved either way.
 */
export async function releaseLock(deps: LockOpsDeps, req: ReleaseRequest): Promise<ReleaseResult> {
  const audit = { user: req.operator, action: "lock.release", targetType: "lock", targetId: req.key, reason: req.reason };
  // Redis and PostgreSQL share no transaction, so the release is recorded after the fact.
  // Should that write fail, the lock itself and the lock service's audit stream still name
  // who released it.
  return runThenAudit(deps.prisma, audit, async () => {
    assertLockKey(req.key);
    const state = await deps.locks.inspect(req.key);
    const target = state.holders.find((h) => h.token === req.expectedToken);
    if (!target) throw staleToken(req.key, req.expectedToken, state.holders);
    const prepared = await preparedHolder(deps, target.owner);
    if (prepared) throw preparedRefusal(req.key, prepared);
    const result = await deps.locks
      .forceRelease({ key: req.key, expectedToken: req.expectedToken, actor: `user:${req.operator.name}`, reason: req.reason })
      .catch((err: unknown) => {
        if (!isCohortError(err, "STALE_TOKEN")) throw err;
        const holders = Array.isArray(err.details?.holders) ? (err.details.holders as LockHolder[]) : [];
        throw staleToken(req.key, req.expectedToken, holders);
      });
    const released = result.before.find((h) => h.token === req.expectedToken)!;
    const message =
      `released token ${released.token} held by ${released.owner} (${released.mode}, for ${Math.round((result.at - released.acquiredAt) / 1000)} s); ` +
      `fence now ${result.fence}`;
    return {
      result: { key: req.key, released, fence: result.fence, remaining: result.after, at: result.at, message },
      before: { holders: result.before.map(holderLine), fence: state.fence },
      after: { holders: result.after.map(holderLine), fence: result.fence },
      message,
    };
  });
}

function staleToken(key: string, expected: string, holders: LockHolder[]): CohortError {
  const now = holders.length
    ? `it is now held by ${holders.map((h) => `${h.owner} (token ${h.token}, ${h.mode})`).join(", ")}`
    : "nobody holds it now";
  return new CohortError(
    "STALE_TOKEN",
    `the lock "${key}" changed since you looked: token ${expected} no longer holds it, ${now}. Reload and check again before releasing.`,
    {
      details: {
        key,
        expectedToken: expected,
        problem: {
          key,
          expectedToken: expected,
          holders: holders.map((h) => ({ owner: h.owner, token: h.token, mode: h.mode })),
        },
      },
    },
  );
}

function preparedRefusal(key: string, p: PreparedHolder): CohortError {
  const where = [
    ...(p.preparedOn.length ? [`prepared on ${p.preparedOn.join(", ")}`] : []),
    ...(p.unconfirmedOn.length ? [`possibly prepared on ${p.unconfirmedOn.join(", ")} (the shard cannot be asked)`] : []),
  ].join("; ");
  return new CohortError(
    "CONFLICT",
    `the holder of "${key}", transaction ${p.txId}, is in doubt (${p.status}, ${where}): releasing the Redis lock would not ` +
      `free the rows its prepared branch still holds in PostgreSQL. Resolve the transaction instead (${p.href}).`,
    {
      details: {
        problem: {
          key,
          txId: p.txId,
          txStatus: p.status,
          preparedOn: p.preparedOn,
          unconfirmedOn: p.unconfirmedOn,
          href: p.href,
        },
      },
    },
  );
}

/** A holder as one short line in the audit trail's before/after. */
const holderLine = (h: LockHolder) => `${h.owner} ${h.mode} #${h.token}`;

/** The owner's live grants, found through the index members (no lock is read until one matches). */
async function ownedLocks(deps: LockOpsDeps, owner: string, prefix = ""): Promise<HeldLock[]> {
  const held = deps.locks.indexKeys.held;
  const candidates = new Map<string, Set<string>>();
  let start = "-";
  for (let read = 0; read < MAX_INDEX_MEMBERS; read += INDEX_PAGE) {
    const members = await deps.redis.zrangebylex(held, start, "+", "LIMIT", 0, INDEX_PAGE);
    for (const m of members) {
      const p = parseHeldMember(m);
      if (!p || p.owner !== owner || !p.key.startsWith(prefix)) continue;
      const tokens = candidates.get(p.key) ?? new Set<string>();
      candidates.set(p.key, tokens.add(p.token));
    }
    if (members.length < INDEX_PAGE) break;
    start = `(${members[members.length - 1]!}`;
  }
  const states = await Promise.all([...candidates.keys()].map((k) => deps.locks.inspect(k)));
  return states.flatMap((s) =>
    s.holders
      .filter((h) => h.owner === owner && candidates.get(s.key)!.has(h.token))
      .map((h) => ({ key: s.key, ...h, waiting: s.waiters.length })),
  );
}

async function holderTxs(prisma: PrismaClient, owners: string[]): Promise<Map<string, HolderTx>> {
  const ids = [...new Set(owners.filter((o) => UUID.test(o)).map((o) => o.toLowerCase()))];
  const out = new Map<string, HolderTx>();
  if (ids.length === 0) return out;
  const rows = await prisma.transaction.findMany({
    where: { id: { in: ids } },
    select: { id: true, label: true, status: true, endedAt: true },
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const owner of owners) {
    const row = byId.get(owner.toLowerCase());
    if (row) out.set(owner, { id: row.id, label: row.label, status: row.status, ended: row.endedAt !== null });
  }
  return out;
}

async function redisNow(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
