// A PostgreSQL database taking part in transactions. Branch work runs on a pinned
// connection from `workPool`; phase two and recovery use a separate small pool so that
// a burst of branch work can never starve the commits that release its row locks.
import pg from "pg";
import {
  formatGid,
  GID_PREFIX,
  gidLikePatterns,
  gidLiteral,
  isNamespace,
  legacyGid,
  LEGACY_NAMESPACE,
  MAX_GID_BYTES,
  parseGid,
} from "./gid";
import { ONE_PHASE_TABLE, ONE_PHASE_TABLE_DDL, onePhaseCommitSql } from "./onePhaseEvidence";

export type BranchClient = Pick<pg.PoolClient, "query">;

export interface PreparedXact {
  gid: string;
  preparedAt: Date;
}

export type ResolveResult = "done" | "missing";

/** A PREPARE flushes a state file and WAL; one that takes longer than this is not coming back. */
const PREPARE_TIMEOUT_MS = 15_000;

/** A COMMIT normally takes a WAL flush; one that takes this long is treated as a lost reply. */
const COMMIT_TIMEOUT_MS = 15_000;

/** How long a one-phase commit with a lost reply keeps asking the shard before it answers OUTCOME_PENDING. */
const COMMIT_SETTLE_MS = 15_000;

/** SQLSTATE 42P01: "relation does not exist". */
const UNDEFINED_TABLE = "42P01";

/**
 * An error the shard answered with, as opposed to a lost or cut-off reply: it carries a
 * SQLSTATE outside the classes that mean the connection or the server went away (08
 * connection exception, 57P operator intervention such as a shutdown, 53 and 58 resources
 * and system errors), so the statement was refused and its transaction rolled back.
 */
function refusedByShard(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && !/^(08|57P|53|58)/.test(code);
}

/** SQLSTATE 42704: "prepared transaction with identifier … does not exist". */
const UNDEFINED_OBJECT = "42704";

/**
 * Listens on a pinned branch connection while it waits between statements. pg-pool stops
 * listening once a client is checked out, so a session the shard drops then (restart,
 * pg_terminate_backend) would raise an 'error' event nobody handles and kill the process.
 * The branch learns of it anyway: its next statement, or its PREPARE, fails.
 */
const ignoreBranchError = () => undefined;

export class PostgresShard {
  readonly name: string;
  /** The deployment's namespace (COHORT_NAMESPACE): in every gid, so deployments sharing this database stay apart. */
  readonly namespace: string;
  private readonly workPool: pg.Pool;
  /** Every session of this shard's pools carries it: how a one-phase commit's session is recognised. */
  private readonly applicationName: string;
  private readonly controlPool: pg.Pool;

  constructor(opts: { name: string; url: string; namespace: string; poolSize?: number; controlPoolSize?: number }) {
    this.name = opts.name;
    this.namespace = opts.namespace;
    if (!isNamespace(opts.namespace)) throw new Error(`"${opts.namespace}" is not a valid namespace (COHORT_NAMESPACE)`);
    // Refused here rather than by the first PREPARE: PostgreSQL's gid limit is 200 bytes.
    const longest = Buffer.byteLength(this.gid("00000000-0000-0000-0000-000000000000"));
    if (longest > MAX_GID_BYTES)
      throw new Error(`shard name "${opts.name}" makes gids of ${longest} bytes (PostgreSQL allows ${MAX_GID_BYTES})`);
    this.applicationName = `cohort:${opts.name}`;
    const base = { connectionString: opts.url, application_name: this.applicationName };
    // Branch work is bounded by the transaction's deadline (a SET LOCAL statement_timeout, and
    // the wait for a connection); phase two and recovery get fixed bounds, client-side too,
    // because a partitioned network never answers at all and the server's timeout never fires.
    this.workPool = new pg.Pool({ ...base, max: opts.poolSize ?? 20, keepAlive: true });
    this.controlPool = new pg.Pool({
      ...base,
      max: opts.controlPoolSize ?? 32,
      connectionTimeoutMillis: 5_000,
      statement_timeout: 15_000,
      query_timeout: 20_000,
      keepAlive: true,
    });
    // An idle client that dies (shard restart) must not crash the process.
    this.workPool.on("error", () => undefined);
    this.controlPool.on("error", () => undefined);
  }

  /** This branch's gid for a transaction. */
  gid(txId: string): string {
    return formatGid(this.namespace, txId, this.name);
  }

  /** The transaction and shard of a gid of this deployment; null for any other. */
  parseGid(gid: string): { txId: string; shard: string } | null {
    return parseGid(gid, this.namespace);
  }

  /** Opens a local transaction for a branch; the statement timeout stops work at the deadline. */
  async beginBranch(timeoutMs: number): Promise<pg.PoolClient> {
    const client = await this.connectWithin(timeoutMs);
    client.on("error", ignoreBranchError);
    try {
      const ms = Math.max(1, Math.floor(timeoutMs));
      await client.query(`BEGIN; SET LOCAL statement_timeout = ${ms}`);
      return client;
    } catch (err) {
      releaseBranch(client, err as Error);
      throw err;
    }
  }

  /** Votes: true when PREPARE TRANSACTION succeeded. The client is released either way. */
  async prepare(client: pg.PoolClient, txId: string): Promise<{ ok: true } | { ok: false; error: Error }> {
    try {
      await timed(client, `PREPARE TRANSACTION ${gidLiteral(this.gid(txId))}`, PREPARE_TIMEOUT_MS);
      releaseBranch(client);
      return { ok: true };
    } catch (err) {
      // A failed PREPARE rolls the local transaction back; the session is reusable unless
      // broken. A PREPARE that timed out may still land: the coordinator treats every no vote
      // as possibly prepared and rolls it back once ABORT is logged.
      const broken = await timed(client, "ROLLBACK", 2_000).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      releaseBranch(client, broken);
      return { ok: false, error: err as Error };
    }
  }

  /**
   * Commits a branch in one phase: its COMMIT, carrying the evidence row, is the
   * transaction's commit point. When the shard answers, that is the outcome. When the reply
   * is lost (a dropped connection, a timeout), the shard is asked (settleOnePhase) until it
   * can say; "unknown" only when it cannot within the settle window, with the backend's pid
   * for whoever asks later. The client is released either way.
   */
  async commitOnePhase(
    client: pg.PoolClient,
    txId: string,
  ): Promise<{ outcome: "committed" } | { outcome: "aborted" | "unknown"; error: Error; pid: number | null }> {
    // The backend's pid, from the connection's startup (BackendKeyData): no query needed.
    const pid = (client as unknown as { processID?: number }).processID ?? null;
    try {
      // The evidence row and the COMMIT in one round trip (see onePhaseEvidence.ts). If the
      // INSERT fails, the COMMIT is skipped and the session, destroyed below, rolls back.
      await timed(client, onePhaseCommitSql(txId, this.namespace), COMMIT_TIMEOUT_MS);
      releaseBranch(client);
      return { outcome: "committed" };
    } catch (err) {
      const error = err as Error;
      releaseBranch(client, error);
      if (refusedByShard(error)) {
        // The shard answered with an error: the INSERT failed (the COMMIT after it was then
        // skipped) or the COMMIT itself failed (a deferred constraint): rolled back, final.
        // A missing evidence table (a shard down when the engine started) is made for next time.
        if ((error as { code?: string }).code === UNDEFINED_TABLE) void this.ensureOnePhaseTable().catch(() => undefined);
        return { outcome: "aborted", error, pid };
      }
      const status = await this.settleOnePhase(txId, pid);
      if (status === "committed") return { outcome: "committed" };
      return { outcome: status, error, pid };
    }
  }

  /**
   * What became of a one-phase commit: committed when its evidence row is there; aborted
   * once the session that ran it is gone with no evidence (the row and the commit are one
   * local transaction, and nothing can commit it after its session ended); unknown when the
   * shard cannot be asked within `windowMs`. A session still open (its COMMIT never arrived,
   * or is stuck behind a partition) is terminated, which aborts it unless its commit record
   * is already written. The session is checked before the evidence, each in its own
   * statement: a session that commits and exits between the two is then seen committed.
   * `pid` null (unknown) means the session is taken to be gone.
   */
  async settleOnePhase(
    txId: string,
    pid: number | null,
    windowMs = COMMIT_SETTLE_MS,
  ): Promise<"committed" | "aborted" | "unknown"> {
    const until = Date.now() + windowMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const alive =
          pid !== null &&
          (
            await this.controlPool.query(
              "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND datname = current_database() AND application_name = $2",
              [pid, this.applicationName],
            )
          ).rowCount! > 0;
        if ((await this.onePhaseCommitted([txId])).length > 0) return "committed";
        if (!alive) return "aborted";
        await this.controlPool.query(
          "SELECT pg_terminate_backend($1) FROM pg_stat_activity WHERE pid = $1 AND application_name = $2",
          [pid, this.applicationName],
        );
      } catch {
        // the shard cannot be asked right now; try again until the window closes
      }
      if (Date.now() >= until) return "unknown";
      await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)));
    }
  }

  /** Ends an unprepared branch. */
  async rollbackLocal(client: pg.PoolClient): Promise<void> {
    try {
      await timed(client, "ROLLBACK", 5_000);
      releaseBranch(client);
    } catch (err) {
      releaseBranch(client, err as Error);
    }
  }

  /**
   * Drops a branch's session without a word to the shard: for a connection whose statement
   * in flight does not come back (a partition). The shard rolls the work back when it
   * notices the session is gone; nothing was prepared on it.
   */
  discardBranch(client: pg.PoolClient): void {
    releaseBranch(client, new Error("branch connection discarded: the shard did not answer"));
  }

  commitPrepared(txId: string): Promise<ResolveResult> {
    return this.resolveBranch(txId, "COMMIT");
  }

  rollbackPrepared(txId: string): Promise<ResolveResult> {
    return this.resolveBranch(txId, "ROLLBACK");
  }

  /** Resolves by raw gid: reconciliation meets gids whose shard part may not be this name. */
  resolveGid(gid: string, commit: boolean): Promise<ResolveResult> {
    return this.resolve(`${commit ? "COMMIT" : "ROLLBACK"} PREPARED ${gidLiteral(gid)}`);
  }

  /**
   * This deployment's prepared transactions in this database: gids of its namespace (and,
   * for the namespace "cohort", the pre-namespace form). Other deployments' and other
   * systems' are never listed. A malformed gid under this namespace's prefix is listed (a
   * person must look at it); callers parse with parseGid and leave those alone.
   */
  async listPrepared(): Promise<PreparedXact[]> {
    const { rows } = await this.controlPool.query<{ gid: string; prepared: Date }>(
      "SELECT gid, prepared FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE ANY($1::text[]) ORDER BY prepared",
      [gidLikePatterns(this.namespace)],
    );
    const ownPrefix = `${GID_PREFIX}:${this.namespace}:`;
    return rows
      .filter((r) => r.gid.startsWith(ownPrefix) || this.parseGid(r.gid) !== null)
      .map((r) => ({ gid: r.gid, preparedAt: r.prepared }));
  }

  /** Whether this branch's prepared transaction exists on the shard right now (its yes vote). */
  async isPrepared(txId: string): Promise<boolean> {
    const { rowCount } = await this.controlPool.query(
      "SELECT 1 FROM pg_prepared_xacts WHERE gid = ANY($1::text[]) AND database = current_database()",
      [this.gids(txId)],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * Fails with a readable message when this shard cannot take part: unreachable, or
   * PostgreSQL's default max_prepared_transactions = 0, which makes every PREPARE fail.
   */
  async checkReady(): Promise<void> {
    let setting: string | undefined;
    try {
      const { rows } = await this.controlPool.query<{ max_prepared_transactions: string }>("SHOW max_prepared_transactions");
      setting = rows[0]?.max_prepared_transactions;
    } catch (err) {
      throw new Error(`shard ${this.name} is unreachable: ${(err as Error).message}`);
    }
    if (!setting || Number(setting) < 1) {
      throw new Error(
        `shard ${this.name} has max_prepared_transactions = ${setting ?? "?"}: two-phase commit needs it above the number of transactions in flight ` +
          "(ALTER SYSTEM SET max_prepared_transactions = 200, then restart that PostgreSQL)",
      );
    }
  }

  async ping(): Promise<void> {
    await this.controlPool.query("SELECT 1");
  }

  /** Creates the table of one-phase commit evidence unless it exists (a race with another engine is fine). */
  async ensureOnePhaseTable(): Promise<void> {
    const { rows } = await this.controlPool.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [
      ONE_PHASE_TABLE,
    ]);
    if (rows[0]?.exists) return;
    try {
      await this.controlPool.query(ONE_PHASE_TABLE_DDL);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "23505" || code === "42P07") return; // created meanwhile by another engine
      if (code === "42501") {
        throw new Error(
          `shard ${this.name}: no right to create the table ${ONE_PHASE_TABLE} that one-phase commits write; ` +
            `create it as an administrator (${ONE_PHASE_TABLE_DDL.replace(/\s+/g, " ")}) and grant SELECT, INSERT, DELETE on it`,
        );
      }
      throw err;
    }
  }

  /** The transactions among `txIds` that committed here in one phase and are still in the evidence table. */
  async onePhaseCommitted(txIds: string[]): Promise<string[]> {
    const { rows } = await this.controlPool.query<{ tx_id: string }>(
      `SELECT tx_id::text FROM ${ONE_PHASE_TABLE} WHERE tx_id = ANY($1::uuid[]) AND namespace = $2`,
      [txIds, this.namespace],
    );
    return rows.map((r) => r.tx_id);
  }

  /** This deployment's one-phase evidence older than `olderThanMs`, oldest first. */
  async listOnePhaseEvidence(olderThanMs: number, limit = 1_000): Promise<{ txId: string; committedAt: Date }[]> {
    const { rows } = await this.controlPool.query<{ tx_id: string; committed_at: Date }>(
      `SELECT tx_id::text, committed_at FROM ${ONE_PHASE_TABLE}
       WHERE namespace = $1 AND committed_at < now() - make_interval(secs => $2::float8)
       ORDER BY committed_at LIMIT $3`,
      [this.namespace, olderThanMs / 1000, limit],
    );
    return rows.map((r) => ({ txId: r.tx_id, committedAt: r.committed_at }));
  }

  /** Drops evidence rows once the log holds their transactions' records. */
  async deleteOnePhaseEvidence(txIds: string[]): Promise<void> {
    if (txIds.length === 0) return;
    await this.controlPool.query(`DELETE FROM ${ONE_PHASE_TABLE} WHERE tx_id = ANY($1::uuid[]) AND namespace = $2`, [
      txIds,
      this.namespace,
    ]);
  }

  /** Plain queries outside any Cohort transaction (schema setup, checks). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.controlPool.query<R>(text, values);
  }

  async close(): Promise<void> {
    await Promise.all([this.workPool.end(), this.controlPool.end()]);
  }

  /**
   * The gids this branch may have been prepared under: its own, and for the legacy
   * namespace also the pre-namespace form, so an engine upgraded in place finishes the
   * branches its previous version prepared.
   */
  private gids(txId: string): string[] {
    const own = this.gid(txId);
    return this.namespace === LEGACY_NAMESPACE ? [own, legacyGid(txId, this.name)] : [own];
  }

  private async resolveBranch(txId: string, verb: "COMMIT" | "ROLLBACK"): Promise<ResolveResult> {
    for (const gid of this.gids(txId)) {
      if ((await this.resolve(`${verb} PREPARED ${gidLiteral(gid)}`)) === "done") return "done";
    }
    return "missing";
  }

  private async resolve(sql: string): Promise<ResolveResult> {
    try {
      await this.controlPool.query(sql);
      return "done";
    } catch (err) {
      if ((err as { code?: string }).code === UNDEFINED_OBJECT) return "missing";
      throw err;
    }
  }

  private async connectWithin(timeoutMs: number): Promise<pg.PoolClient> {
    let timer: NodeJS.Timeout | undefined;
    const pending = this.workPool.connect();
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection to ${this.name} within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      // The connection may still arrive after the race was lost: give it back.
      pending.then(
        (c) => c.release(),
        () => undefined,
      );
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * A statement with a client-side bound: pg honours `query_timeout` per query (its types do
 * not list it), rejecting the call and leaving the session to be destroyed on release.
 */
function timed(client: pg.PoolClient, text: string, ms: number): Promise<pg.QueryResult> {
  return client.query({ text, query_timeout: ms } as pg.QueryConfig);
}

/** Back to the pool (which destroys a broken session rather than reuse it). */
function releaseBranch(client: pg.PoolClient, err?: Error): void {
  client.removeListener("error", ignoreBranchError);
  client.release(err);
}
