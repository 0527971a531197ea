// The fan-out against a real Redis: coalesced live delivery, and a reconnect that resumes
// from the last seen event id without losing or reordering anything.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { io as connectClient, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { encodeEvent, type TxStatus } from "./events";
import { startFanout, type Fanout } from "./fanout";
import { compareStreamIds, type LiveReady, type LiveTxEvent } from "./protocol";

const STATUSES: TxStatus[] = ["ACTIVE", "PREPARING", "COMMITTING", "COMMITTED"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Received {
  /** Batches after client-side de-duplication, in arrival order. */
  batches: LiveTxEvent[][];
  readies: LiveReady[];
  lastEventId: string | null;
}

describe("live fan-out", () => {
  let redis: Redis;
  let httpServer: http.Server;
  let io: Server;
  let fanout: Fanout;
  let url: string;
  let stream: string;
  const clients: ClientSocket[] = [];

  beforeEach(async () => {
    redis = new Redis(inject("redisUrl"));
    stream = `test:events:${randomUUID()}`;
    httpServer = http.createServer();
    io = new Server(httpServer);
    fanout = await startFanout({ io, redis, stream, coalesceMs: 20, log: () => undefined });
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await fanout.stop();
    await io.close();
    await redis.del(stream);
    redis.disconnect();
  });

  const publish = (id: string, status: TxStatus) =>
    redis.xadd(stream, "*", "e", encodeEvent({ v: 1, type: "tx.updated", id, status, label: "t", at: Date.now() }));

  /** Mirrors components/live/liveConnection.ts: drop anything not newer than the cursor. */
  function connect(auth: object, received: Received): ClientSocket {
    const socket = connectClient(url, { transports: ["websocket"], reconnection: false, auth });
    socket.on("tx.updated", (events: LiveTxEvent[]) => {
      const fresh = events.filter((e) => received.lastEventId === null || compareStreamIds(e.eventId, received.lastEventId) > 0);
      if (fresh.length === 0) return;
      received.lastEventId = fresh.at(-1)!.eventId;
      received.batches.push(fresh);
    });
    socket.on("live.ready", (ready: LiveReady) => {
      received.readies.push(ready);
      if (ready.lastEventId && (!received.lastEventId || compareStreamIds(ready.lastEventId, received.lastEventId) > 0)) {
        received.lastEventId = ready.lastEventId;
      }
    });
    clients.push(socket);
    return socket;
  }

  async function waitForReady(received: Received, count: number): Promise<void> {
    for (let i = 0; i < 200 && received.readies.length < count; i++) await sleep(10);
    expect(received.readies.length).toBeGreaterThanOrEqual(count);
  }

  it("resumes after a reconnect with no gap and in order", async () => {
    const txIds = Array.from({ length: 15 }, () => randomUUID());
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        await publish(txIds[n % txIds.length]!, STATUSES[n % STATUSES.length]!);
        await sleep(2);
      }
    })();

    const received: Received = { batches: [], readies: [], lastEventId: null };
    const first = connect({ rooms: ["transactions"] }, received);
    await waitForReady(received, 1);
    expect(received.readies[0]!.resync).toBe(true);
    await sleep(300);
    first.disconnect();
    const seenBeforeGap = received.batches.length;
    await sleep(300);
    connect({ rooms: ["transactions"], lastEventId: received.lastEventId }, received);
    await waitForReady(received, 2);
    expect(received.readies[1]!.resync).toBe(false);
    await sleep(300);
    publishing = false;
    await publisher;
    await sleep(150);

    expect(seenBeforeGap).toBeGreaterThan(0);
    expect(received.batches.length).toBeGreaterThan(seenBeforeGap);

    // After every batch the client must know the latest state of every transaction up to
    // that batch's newest event: nothing skipped, in the gap or anywhere else.
    const entries = await redis.xrange(stream, "-", "+");
    const stateAt = (upTo: string) => {
      const latest = new Map<string, string>();
      for (const [id, fields] of entries) {
        if (compareStreamIds(id, upTo) > 0) break;
        latest.set((JSON.parse(fields[1]!) as { id: string }).id, id);
      }
      return latest;
    };
    // The first connection has no cursor, so it is owed everything after its join point.
    const joinedAt = received.readies[0]!.lastEventId ?? "0-0";
    const known = new Map<string, string>();
    let previous = "0-0";
    for (const batch of received.batches) {
      for (const event of batch) {
        expect(compareStreamIds(event.eventId, previous)).toBeGreaterThan(0);
        previous = event.eventId;
        known.set(event.id, event.eventId);
      }
      for (const [txId, eventId] of stateAt(previous)) {
        if (compareStreamIds(eventId, joinedAt) > 0) expect(known.get(txId)).toBe(eventId);
      }
    }
    expect(previous).toBe(entries.at(-1)![0]);
  });

  it("sends only the transaction's own events to a tx room", async () => {
    const mine = randomUUID();
    const other = randomUUID();
    const received: Received = { batches: [], readies: [], lastEventId: null };
    const socket = connect({}, received);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.emit("subscribe", { rooms: [`tx:${mine}`] });
    await waitForReady(received, 1);
    await publish(other, "ACTIVE");
    await publish(mine, "ACTIVE");
    await publish(mine, "COMMITTED");
    await sleep(150);
    const events = received.batches.flat();
    expect(events.map((e) => [e.id, e.status])).toEqual([[mine, "COMMITTED"]]);
  });

  it("ignores malformed subscriptions and asks for a resync when the cursor is gone", async () => {
    await publish(randomUUID(), "ACTIVE");
    const received: Received = { batches: [], readies: [], lastEventId: null };
    const socket = connect({ rooms: ["transactions"], lastEventId: "1-0" }, received);
    await waitForReady(received, 1);
    expect(received.readies[0]!.resync).toBe(true);
    socket.emit("subscribe", { rooms: ["secrets", 42] });
    socket.emit("subscribe", "transactions");
    socket.emit("unsubscribe", null);
    await sleep(50);
    expect(socket.connected).toBe(true);
    const sockets = await io.fetchSockets();
    expect([...sockets[0]!.rooms].filter((r) => r !== sockets[0]!.id)).toEqual(["transactions"]);
  });
});
