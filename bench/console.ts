// Console benchmark: (1) the transaction list with 1,000,000 transactions in the log —
// p95 of the first page, a filtered page and a page 1,000 pages deep through the keyset
// query the API runs, next to the same deep page through OFFSET; (2) live updates — the
// time from an engine event to its arrival at 100 connected socket.io clients while
// 2,000 events per second flow through the real fan-out, and how many were lost.
import { fork } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import type { Config } from "../server/config";
import { connectDatabase } from "../server/db/prisma";
import { createScratchEnvironment } from "../server/infra/scratchEnvironment";
import { eventsStream } from "../server/live/events";
import { TxEventBuffer } from "../server/live/eventBuffer";
import { startFanout } from "../server/live/fanout";
import { DEFAULT_NAMESPACE } from "../server/participants/gid";
import { listQuerySchema, toListQuery } from "../server/transactions/filters";
import { listTransactions } from "../server/transactions/list";
import { percentile, round } from "./stats";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const PAGE = 50;
const DEEP_PAGES = 1_000;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const EVENTS_PER_S = 2_000;

export async function benchConsole(config: Config, opts: { seconds: number; say: (l: string) => void }) {
  const env = await createScratchEnvironment(config, { purpose: "benchconsole", shards: 2 });
  const db = connectDatabase(env.databaseUrl, { poolSize: 4 });
  try {
    opts.say(`console bench: writing ${ROWS.toLocaleString()} transactions and their branches…`);
    await seed(db.pool);
    const list = (q: Record<string, string | number | undefined>) =>
      listTransactions(db.prisma, toListQuery(listQuerySchema.parse(q)));
    const time = async (fn: () => Promise<unknown>, n: number) => {
      const samples: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await fn();
        samples.push(performance.now() - t);
      }
      return percentile(
        samples.sort((a, b) => a - b),
        95,
      );
    };
    // Walk to page 1,000 once to get its cursor, as a user paging would.
    let cursor: string | null = null;
    for (let page = 1; page < DEEP_PAGES; page++)
      cursor = (await list({ limit: PAGE, ...(cursor ? { cursor } : {}) })).nextCursor;
    if (!cursor) throw new Error("fewer rows than 1,000 pages");
    const deepCursor = cursor;
    const listFirst = await time(() => list({ limit: PAGE }), 200);
    const listFiltered = await time(() => list({ limit: PAGE, state: "ABORTED", shard: "shard-b" }), 200);
    const listDeep = await time(() => list({ limit: PAGE, cursor: deepCursor }), 200);
    const offsetDeep = await time(
      () =>
        db.pool.query(
          `SELECT t.id, t.label, t.status, t.started_at FROM transactions t ORDER BY t.started_at DESC, t.id DESC OFFSET ${PAGE * (DEEP_PAGES - 1)} LIMIT ${PAGE}`,
        ),
      50,
    );
    opts.say(
      `  list p95: first ${round(listFirst)} ms, filtered ${round(listFiltered)} ms, deep ${round(listDeep)} ms, OFFSET deep ${round(offsetDeep)} ms`,
    );
    const live = await benchLive(env.redisUrl, opts);
    return {
      list_first_p95_ms: round(listFirst),
      list_filtered_p95_ms: round(listFiltered),
      list_deep_p95_ms: round(listDeep),
      offset_deep_p95_ms: round(offsetDeep),
      deep_over_first: round(listDeep / listFirst),
      ...live,
    };
  } finally {
    await db.close();
    await env.stop();
  }
}

/** 1M transactions over the last 30 days: 96% committed, 3% aborted, 1% in flight; two branches each. */
async function seed(pool: import("pg").Pool): Promise<void> {
  await pool.query(`
    INSERT INTO transactions (id, label, status, decision, started_at, deadline_at, decided_at, ended_at, updated_at, outcome)
    SELECT id, CASE WHEN g % 10 = 0 THEN 'rebalance' ELSE 'transfer' END, s::"TxStatus",
      CASE s WHEN 'COMMITTED' THEN 'COMMIT'::"Decision" WHEN 'ABORTED' THEN 'ABORT'::"Decision" END,
      t, t + interval '30 s', t + interval '20 ms', CASE WHEN s IN ('COMMITTED', 'ABORTED') THEN t + interval '40 ms' END,
      t, CASE WHEN s IN ('COMMITTED', 'ABORTED') THEN s::"TxStatus" END
    FROM (
      SELECT g, gen_random_uuid() AS id, now() - (g * interval '2592 ms') AS t,
        CASE WHEN g % 100 < 96 THEN 'COMMITTED' WHEN g % 100 < 99 THEN 'ABORTED' ELSE 'PREPARING' END AS s
      FROM generate_series(1, ${ROWS}) AS g) x`);
  await pool.query(`
    INSERT INTO branches (tx_id, shard, gid, status, vote, attempts, resolved_at)
    SELECT t.id, s, 'cohort:' || t.id || ':' || s,
      CASE t.status WHEN 'COMMITTED' THEN 'COMMITTED'::"BranchStatus" WHEN 'ABORTED' THEN 'ABORTED'::"BranchStatus" ELSE 'PREPARED'::"BranchStatus" END,
      true, 1, t.ended_at
    FROM transactions t, unnest(ARRAY['shard-a', 'shard-b']) AS s`);
  await pool.query("ANALYZE transactions; ANALYZE branches");
}

/** Events through the real fan-out (Redis stream → socket.io) to CLIENTS sockets in another process. */
async function benchLive(redisUrl: string, opts: { seconds: number; say: (l: string) => void }) {
  const redis = new Redis(redisUrl, { enableAutoPipelining: true });
  const server = http.createServer();
  const io = new Server(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const fanout = await startFanout({ io, redis, stream: eventsStream(DEFAULT_NAMESPACE), log: () => undefined });
  const child = fork(path.join(import.meta.dirname, "liveClients.ts"), [`http://127.0.0.1:${port}`, String(CLIENTS)], {
    execArgv: ["--import", "tsx"],
  });
  const message = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      child.on("message", (m: { type: string }) => m.type === type && resolve(m as T));
      child.once("exit", (code) => reject(new Error(`live clients exited (${code})`)));
    });
  try {
    await message("ready");
    await new Promise((r) => setTimeout(r, 500));
    opts.say(`  live: ${CLIENTS} clients connected; publishing ${EVENTS_PER_S} events/s for ${opts.seconds} s`);
    // The engine's own publisher (20 ms coalescing window); every event is a distinct transaction.
    const publisher = new TxEventBuffer(redis, DEFAULT_NAMESPACE);
    const sent: string[] = [];
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < opts.seconds * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * EVENTS_PER_S);
      for (; n < due; n++) {
        const id = `00000000-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;
        sent.push(id);
        publisher.push({ v: 1, type: "tx.updated", id, status: "COMMITTED", label: "bench", at: Date.now() });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await publisher.flush();
    await new Promise((r) => setTimeout(r, 2_000)); // the last batches in flight
    const report = message<{ p50: number; p95: number; deliveries: number; lost: number }>("report");
    child.send({ type: "report", sent });
    const r = await report;
    return {
      live_p50_ms: round(r.p50),
      live_p95_ms: round(r.p95),
      events_sent: sent.length,
      deliveries: r.deliveries,
      events_lost: r.lost,
    };
  } finally {
    child.kill();
    await fanout.stop();
    io.close();
    await new Promise((r) => server.close(r));
    await redis.del(eventsStream(DEFAULT_NAMESPACE));
    redis.disconnect();
  }
}
