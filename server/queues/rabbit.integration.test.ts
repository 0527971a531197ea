// RabbitMQ queue depths against a real broker: ready messages and consumers from AMQP, the
// unacknowledged count from the management API when it is there, and a missing queue, a
// dead broker, a silent broker, a dead management API or a connection the broker closes
// costing figures, never an exception.
//
// The broker is amqp://guest:guest@127.0.0.1:5672 unless COHORT_TEST_RABBITMQ_URL says
// otherwise; without one the broker tests are skipped, with a warning saying so. The
// management API (rabbitmq-plugins enable rabbitmq_management) is looked for on port 15672
// of the same host, or at COHORT_TEST_RABBITMQ_MANAGEMENT_URL.
import { randomBytes } from "node:crypto";
import { connect as tcpConnect, createServer, type Server, type Socket } from "node:net";
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../testing/waitFor";
import { RABBIT_CONNECTION_NAME, RabbitDepths } from "./rabbit";
import type { RabbitQueueFigures } from "./types";

const BROKER_URL = process.env.COHORT_TEST_RABBITMQ_URL || "amqp://guest:guest@127.0.0.1:5672";
const MANAGEMENT_URL = process.env.COHORT_TEST_RABBITMQ_MANAGEMENT_URL || defaultManagementUrl(BROKER_URL);
const PROBE_MS = 1500;
/** The management API samples queue stats every 5 s by default. */
const STATS_DEADLINE_MS = 20_000;

function defaultManagementUrl(brokerUrl: string): string {
  const url = new URL(brokerUrl);
  const userinfo = url.username || url.password ? `${url.username}:${url.password}@` : "";
  return `http://${userinfo}${url.hostname}:15672`;
}

function shown(raw: string): string {
  const url = new URL(raw);
  url.username = "";
  url.password = "";
  return url.toString();
}

/** fetch refuses URLs with credentials, so they travel as a header. */
async function management(path: string, init: RequestInit = {}): Promise<Response> {
  const url = new URL(MANAGEMENT_URL);
  const auth = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64");
  url.username = "";
  url.password = "";
  return fetch(`${url.toString().replace(/\/+$/, "")}${path}`, {
    ...init,
    headers: { authorization: `Basic ${auth}`, ...init.headers },
    signal: AbortSignal.timeout(PROBE_MS * 2),
  });
}

async function probeBroker(): Promise<boolean> {
  const attempt = connect(BROKER_URL, { timeout: PROBE_MS });
  // A connection that arrives after we gave up must not keep the test process alive.
  attempt.then((c) => c.close()).catch(() => undefined);
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), PROBE_MS + 500));
  return Promise.race([attempt.then(() => true).catch(() => false), timeout]);
}

async function probeManagement(): Promise<boolean> {
  try {
    const res = await management("/api/overview");
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

const reachable = await probeBroker();
if (!reachable) {
  console.warn(
    `RabbitMQ not reachable at ${shown(BROKER_URL)}: skipping the RabbitMQ queue-depth tests against a broker ` +
      `(set COHORT_TEST_RABBITMQ_URL to run them elsewhere).`,
  );
}
const managed = reachable && (await probeManagement());
if (reachable && !managed) {
  console.warn(
    `RabbitMQ management API not reachable at ${shown(MANAGEMENT_URL)}: skipping its part of the RabbitMQ tests ` +
      `(unacknowledged is checked to be null instead; enable it with "rabbitmq-plugins enable rabbitmq_management").`,
  );
}

/**
 * A TCP relay to the broker that can cut every connection with a reset (as a crashed broker
 * or a dropped network would) and refuse new ones until it is brought back.
 */
async function tcpProxy(target: string) {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  let down = false;
  let accepted = 0;
  const server = createServer((client) => {
    client.on("error", () => undefined);
    if (down) return void client.resetAndDestroy();
    accepted++;
    const upstream = tcpConnect(Number(to.port || 5672), to.hostname);
    upstream.on("error", () => client.destroy());
    client.pipe(upstream).pipe(client);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    accepted: () => accepted,
    setDown(value: boolean) {
      down = value;
      if (value) for (const s of sockets) s.resetAndDestroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const collectors: RabbitDepths[] = [];
function depths(queues: string[], opts: { managementUrl?: string | null; url?: string; timeoutMs?: number } = {}) {
  const collector = new RabbitDepths({
    url: opts.url ?? BROKER_URL,
    queues,
    managementUrl: opts.managementUrl === undefined ? (managed ? MANAGEMENT_URL : null) : opts.managementUrl,
    timeoutMs: opts.timeoutMs,
  });
  collectors.push(collector);
  return collector;
}
afterAll(async () => {
  await Promise.all(collectors.map((c) => c.close()));
});

describe.skipIf(!reachable)("RabbitDepths against a broker", () => {
  const tag = randomBytes(4).toString("hex");
  const declared: string[] = [];
  let admin: ChannelModel;
  let channel: ConfirmChannel;

  beforeAll(async () => {
    admin = await connect(BROKER_URL);
    channel = await admin.createConfirmChannel();
  });
  afterAll(async () => {
    if (!admin) return;
    const cleanup = await admin.createChannel();
    for (const name of declared) await cleanup.deleteQueue(name).catch(() => undefined);
    await admin.close().catch(() => undefined);
  });

  /** A fresh queue holding `messages` persistent messages, all confirmed by the broker. */
  async function queueWith(label: string, messages: number): Promise<string> {
    const name = `cohort-test-${tag}-${label}`;
    // Expires on its own should the cleanup never run.
    await channel.assertQueue(name, { durable: true, expires: 300_000 });
    declared.push(name);
    for (let i = 0; i < messages; i++) channel.sendToQueue(name, Buffer.from(`m${i}`), { persistent: true });
    await channel.waitForConfirms();
    return name;
  }

  const only = async (collector: RabbitDepths): Promise<RabbitQueueFigures> => {
    const figures = await collector.collect();
    expect(figures).toHaveLength(1);
    return figures[0]!;
  };

  it("reports ready messages and no consumers", async () => {
    const name = await queueWith("ready", 7);
    const figures = await only(depths([name]));
    expect(figures).toMatchObject({ source: "rabbitmq", name, vhost: "/", ready: 7, consumers: 0, error: null });
    // Before the broker's first stats emission for a new queue the management API knows nothing yet.
    if (managed) expect([null, 0]).toContain(figures.unacknowledged);
    else expect(figures.unacknowledged).toBeNull();
  });

  it("counts a consumer and, from the management API, the messages it holds unacknowledged", async () => {
    const total = 10;
    const held = 3;
    const name = await queueWith("unacked", total);
    const consumerChannel = await admin.createChannel();
    try {
      await consumerChannel.prefetch(held);
      const received: ConsumeMessage[] = [];
      await consumerChannel.consume(name, (msg) => msg && received.push(msg), { noAck: false });
      await waitFor(async () => received.length === held, 5000, `${held} deliveries`);

      const collector = depths([name]);
      const figures = await only(collector);
      expect(figures).toMatchObject({ ready: total - held, consumers: 1, error: null });
      if (managed) {
        const settled = await waitFor(
          async () => {
            const f = await only(collector);
            return f.unacknowledged === held ? f : null;
          },
          STATS_DEADLINE_MS,
          `the management API to report ${held} unacknowledged`,
        );
        expect(settled).toMatchObject({ ready: total - held, consumers: 1, unacknowledged: held, error: null });
      } else {
        console.warn("RabbitMQ management API not reachable: unacknowledged counts not checked against the broker.");
        expect(figures.unacknowledged).toBeNull();
      }
      expect(received).toHaveLength(held);
    } finally {
      await consumerChannel.close();
    }
  });

  it("reports a missing queue and still gives the next queue its figures, round after round", async () => {
    const before = await queueWith("before", 1);
    const after = await queueWith("after", 2);
    const missing = `cohort-test-${tag}-missing`;
    // Through the relay only to count connections: a 404 must cost a channel, not the connection.
    const proxy = await tcpProxy(BROKER_URL);
    try {
      const collector = depths([before, missing, after, `${missing}-too`], { url: proxy.url });
      for (let round = 0; round < 2; round++) {
        const figures = await collector.collect();
        expect(figures.map((f) => f.name)).toEqual([before, missing, after, `${missing}-too`]);
        expect(figures[0]).toMatchObject({ ready: 1, consumers: 0, error: null });
        expect(figures[1]).toMatchObject({ ready: null, unacknowledged: null, consumers: null, error: "queue not found" });
        expect(figures[2]).toMatchObject({ ready: 2, consumers: 0, error: null });
        expect(figures[3]).toMatchObject({ ready: null, consumers: null, error: "queue not found" });
      }
      expect(proxy.accepted()).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it("keeps the AMQP figures when the management API is unreachable", async () => {
    const name = await queueWith("nomgmt", 4);
    const figures = await only(depths([name], { managementUrl: "http://guest:guest@127.0.0.1:1", timeoutMs: 500 }));
    expect(figures).toMatchObject({ ready: 4, consumers: 0, unacknowledged: null, error: null });
  });

  it("shares one round between concurrent callers", async () => {
    const name = await queueWith("shared", 5);
    const collector = depths([name, `cohort-test-${tag}-absent`]);
    const [a, b] = await Promise.all([collector.collect(), collector.collect()]);
    expect(a).toBe(b);
    expect(a[0]).toMatchObject({ ready: 5, error: null });
  });

  it("survives the connection being cut and reconnects once the broker is back", async () => {
    const name = await queueWith("cut", 3);
    const proxy = await tcpProxy(BROKER_URL);
    try {
      const collector = depths([name, `cohort-test-${tag}-gone`], { url: proxy.url });
      expect((await collector.collect())[0]).toMatchObject({ ready: 3, error: null });
      expect(proxy.accepted()).toBe(1);

      // A reset socket makes amqplib emit 'error' on the connection: unheard, it would end the test process.
      proxy.setDown(true);
      const down = await waitFor(
        async () => {
          const figures = await collector.collect();
          return figures.every((f) => f.error !== null) ? figures : null;
        },
        5000,
        "error figures while the broker is cut off",
      );
      for (const f of down) expect(f).toMatchObject({ ready: null, unacknowledged: null, consumers: null });

      proxy.setDown(false);
      const back = await waitFor(
        async () => {
          const figures = await collector.collect();
          return figures[0]!.error === null ? figures : null;
        },
        5000,
        "figures once the broker is back",
      );
      expect(back[0]).toMatchObject({ ready: 3, consumers: 0 });
      expect(back[1]).toMatchObject({ error: "queue not found" });
      expect(proxy.accepted()).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });

  it.skipIf(!managed)("reconnects after the broker closes its connection", async () => {
    const name = await queueWith("reconnect", 6);
    const collector = depths([name]);
    expect(await only(collector)).toMatchObject({ ready: 6, error: null });

    const ours = async (): Promise<string[]> => {
      const res = await management("/api/connections?columns=name,client_properties");
      const list = (await res.json()) as { name: string; client_properties?: { connection_name?: string } }[];
      return list.filter((c) => c.client_properties?.connection_name === RABBIT_CONNECTION_NAME).map((c) => c.name);
    };
    // Every collector of this file goes; none is in the middle of a round, and all reconnect.
    const closed = await waitFor(async () => {
      const names = await ours();
      return names.length > 0 ? names : null;
    }, STATS_DEADLINE_MS);
    for (const conn of closed) {
      const res = await management(`/api/connections/${encodeURIComponent(conn)}`, {
        method: "DELETE",
        headers: { "x-reason": "rabbit.integration.test: forced close" },
      });
      expect([204, 404]).toContain(res.status);
    }

    // Collecting while the close is still on its way may fail once; it must not throw and must recover.
    const recovered = await waitFor(
      async () => {
        const f = await only(collector);
        return f.error === null ? f : null;
      },
      10_000,
      "figures after the forced close",
    );
    expect(recovered).toMatchObject({ ready: 6, consumers: 0 });
    const reopened = await waitFor(async () => {
      const names = (await ours()).filter((n) => !closed.includes(n));
      return names.length > 0 ? names : null;
    }, STATS_DEADLINE_MS);
    expect(reopened.length).toBeGreaterThan(0);
  });
});

// These need no broker, so they always run.
describe("RabbitDepths without a broker", () => {
  it("reports an unreachable broker as figures, without credentials, within the timeout", async () => {
    const collector = depths(["a", "b"], {
      url: "amqp://watcher:s3cret-pw@127.0.0.1:1/prod%2Fvh",
      managementUrl: "http://watcher:s3cret-pw@127.0.0.1:1",
      timeoutMs: 500,
    });
    const started = Date.now();
    const figures = await collector.collect();
    expect(Date.now() - started).toBeLessThan(1500);
    expect(figures.map((f) => f.name)).toEqual(["a", "b"]);
    for (const f of figures) {
      expect(f).toMatchObject({ source: "rabbitmq", vhost: "prod/vh", ready: null, unacknowledged: null, consumers: null });
      expect(f.error).toMatch(/^RabbitMQ at amqp:\/\/127\.0\.0\.1:1\/prod%2Fvh: /);
      expect(f.error).not.toContain("s3cret");
      expect(f.error).not.toContain("watcher");
    }
    // A later round tries again rather than remembering the failure.
    expect((await collector.collect())[0]!.error).toMatch(/ECONNREFUSED/);
  });

  describe("a broker that accepts connections and never answers", () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let port = 0;
    beforeAll(async () => {
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it("costs one timeout per round, not one per queue", async () => {
      const collector = depths(["a", "b", "c"], {
        url: `amqp://guest:guest@127.0.0.1:${port}`,
        managementUrl: null,
        timeoutMs: 400,
      });
      const started = Date.now();
      const figures = await collector.collect();
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(350);
      expect(elapsed).toBeLessThan(1200);
      for (const f of figures) {
        expect(f).toMatchObject({ vhost: "/", ready: null, consumers: null });
        expect(f.error).toMatch(/timed out|ETIMEDOUT/);
      }
    });
  });

  it("answers with an error, not a connection, once closed", async () => {
    const collector = depths(["a"], { url: "amqp://127.0.0.1:1", managementUrl: null });
    await collector.close();
    expect(await collector.collect()).toEqual([
      {
        source: "rabbitmq",
        name: "a",
        vhost: "/",
        ready: null,
        unacknowledged: null,
        consumers: null,
        error: "collector closed",
      },
    ]);
  });
});
