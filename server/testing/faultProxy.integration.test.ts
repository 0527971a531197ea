// The fault proxy against the real PostgreSQL and redis-server of the test run: a partition
// really silences a connection, heal really brings it back, and a lost reply really runs the
// statement while the client only sees its connection cut.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { withDatabase } from "../infra/databases";
import { endpointOf, proxiedUrl, startFaultProxy, type FaultProxy } from "./faultProxy";

const serverUrl = () => withDatabase(inject("pgServerUrl"), "postgres");
const table = `proxy_${randomBytes(4).toString("hex")}`;
const proxies: FaultProxy[] = [];
const clients: pg.Client[] = [];
let direct: pg.Client;

async function pgProxy(): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: endpointOf(serverUrl()), protocol: "postgres" });
  proxies.push(p);
  return p;
}

async function clientVia(p: FaultProxy): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: proxiedUrl(serverUrl(), p.port), connectionTimeoutMillis: 3_000 });
  c.on("error", () => undefined);
  clients.push(c);
  await c.connect();
  return c;
}

/** Settles within `ms`: "value", "error: …" or "pending". */
async function within<T>(ms: number, p: Promise<T>): Promise<string> {
  return Promise.race([
    p.then(
      () => "value",
      (err: unknown) => `error: ${String(err)}`,
    ),
    new Promise<string>((r) => setTimeout(() => r("pending"), ms)),
  ]);
}

beforeAll(async () => {
  direct = new pg.Client({ connectionString: serverUrl() });
  await direct.connect();
  await direct.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  for (const p of proxies) await p.close();
  const { rows } = await direct.query<{ gid: string }>("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1", [`${table}%`]);
  for (const r of rows) await direct.query(`ROLLBACK PREPARED '${r.gid}'`);
  await direct.query(`DROP TABLE IF EXISTS ${table}`);
  await direct.end();
});

describe("fault proxy: partitions", () => {
  it("silences an open connection until heal, then the query completes", async () => {
    const p = await pgProxy();
    const c = await clientVia(p);
    expect((await c.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    p.partition();
    const q = c.query("SELECT 2 AS two");
    expect(await within(500, q)).toBe("pending");
    p.heal();
    expect((await q).rows[0].two).toBe(2);
  });

  it("accepts new connections while partitioned but never answers them; heal lets them in", async () => {
    const p = await pgProxy();
    p.partition();
    const c = new pg.Client({ connectionString: proxiedUrl(serverUrl(), p.port) });
    c.on("error", () => undefined);
    clients.push(c);
    const connecting = c.connect();
    expect(await within(500, connecting)).toBe("pending");
    expect(p.connections).toBe(1);
    p.heal();
    await connecting;
    expect((await c.query("SELECT 3 AS three")).rows[0].three).toBe(3);
  });

  it("heal with reset cuts the connections held across the partition", async () => {
    const p = await pgProxy();
    const c = await clientVia(p);
    p.partition();
    const q = c.query("SELECT 1");
    p.heal({ reset: true });
    expect(await within(2_000, q)).toMatch(/^error: .*(terminated|ECONNRESET|closed)/i);
    // New connections work again.
    const d = await clientVia(p);
    expect((await d.query("SELECT 4 AS four")).rows[0].four).toBe(4);
  });

  it("black-holes Redis and heals it", async () => {
    const redisUrl = inject("redisUrl");
    const p = await startFaultProxy({ target: endpointOf(redisUrl), protocol: "raw" });
    proxies.push(p);
    const r = new Redis(proxiedUrl(redisUrl, p.port), { maxRetriesPerRequest: 1, lazyConnect: true });
    r.on("error", () => undefined);
    try {
      await r.connect();
      expect(await r.ping()).toBe("PONG");
      p.partition();
      const ping = r.ping();
      expect(await within(500, ping)).toBe("pending");
      p.heal();
      expect(await ping).toBe("PONG");
    } finally {
      r.disconnect();
    }
  });
});

describe("fault proxy: lost replies", () => {
  it("runs PREPARE TRANSACTION (simple query) but the client only sees its connection cut", async () => {
    const p = await pgProxy();
    const c = await clientVia(p);
    const gid = `${table}:prep`;
    await c.query("BEGIN");
    await c.query(`INSERT INTO ${table} VALUES (1)`);
    p.loseReplies(/^\s*PREPARE TRANSACTION/i);
    expect(await within(6_000, c.query(`PREPARE TRANSACTION '${gid}'`))).toMatch(/^error: /);
    expect(p.lostReplies).toBe(1);
    const { rows } = await direct.query("SELECT gid FROM pg_prepared_xacts WHERE gid = $1", [gid]);
    expect(rows).toHaveLength(1);
    // Armed for one statement only: the next connection is left alone.
    const d = await clientVia(p);
    expect((await d.query("SELECT 5 AS five")).rows[0].five).toBe(5);
  });

  it("matches a named statement by the SQL of its earlier Parse and drops the reply of a later execution", async () => {
    const p = await pgProxy();
    const c = await clientVia(p);
    const insert = { name: "test.insert-row", text: `INSERT INTO ${table} VALUES ($1)` };
    await c.query({ ...insert, values: [10] }); // Parse + Bind: pg sends Parse once per connection
    p.loseReplies(/test\.insert-row/);
    expect(await within(6_000, c.query({ ...insert, values: [11] }))).toMatch(/^error: /);
    const { rows } = await direct.query<{ id: number }>(`SELECT id FROM ${table} WHERE id IN (10, 11) ORDER BY id`);
    expect(rows.map((r) => r.id)).toEqual([10, 11]); // committed, though the client was never told
  });

  it("leaves statements that do not match alone", async () => {
    const p = await pgProxy();
    const c = await clientVia(p);
    p.loseReplies(/COMMIT PREPARED/);
    expect((await c.query("SELECT 6 AS six")).rows[0].six).toBe(6);
    expect(p.lostReplies).toBe(0);
    p.stopLosingReplies();
  });
});
