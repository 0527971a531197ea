// Rooms per socket are capped (issue 10: a viewer joining a million tx:<id> rooms took the
// process from 331 MB to 1.5 GB), with real socket.io clients against a real Redis.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { io as connectClient, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { MAX_TX_ROOMS_PER_SOCKET, startFanout, type Fanout } from "./fanout";
import { txRoom, type SubscribeAck } from "./protocol";

describe("rooms per socket", () => {
  let redis: Redis;
  let httpServer: http.Server;
  let io: Server;
  let fanout: Fanout;
  let url: string;
  const clients: ClientSocket[] = [];

  beforeEach(async () => {
    redis = new Redis(inject("redisUrl"));
    httpServer = http.createServer();
    io = new Server(httpServer);
    fanout = await startFanout({ io, redis, stream: `test:events:${randomUUID()}`, log: () => undefined });
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await fanout.stop();
    await io.close();
    redis.disconnect();
  });

  async function connect(auth: object = {}): Promise<ClientSocket> {
    const socket = connectClient(url, { transports: ["websocket"], reconnection: false, auth });
    clients.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    return socket;
  }

  const txRoomsOf = async (client: ClientSocket): Promise<string[]> => {
    // Joins are queued per socket: wait until the server has worked through them.
    await new Promise((r) => setTimeout(r, 200));
    const server = (await io.fetchSockets()).find((s) => s.id === client.id)!;
    return [...server.rooms].filter((r) => r.startsWith("tx:"));
  };

  const subscribe = (client: ClientSocket, rooms: string[]) =>
    client.timeout(2_000).emitWithAck("subscribe", { rooms }) as Promise<SubscribeAck>;

  it(`joins at most ${MAX_TX_ROOMS_PER_SOCKET} tx rooms and says which it refused`, async () => {
    const client = await connect();
    const first = Array.from({ length: MAX_TX_ROOMS_PER_SOCKET }, () => txRoom(randomUUID()));
    expect(await subscribe(client, first)).toEqual({ ok: true, refused: [] });
    const extra = txRoom(randomUUID());
    const ack = await subscribe(client, [extra, "transactions", "tx:not-an-id", "evil"]);
    expect(ack.ok).toBe(false);
    expect(ack.refused).toEqual([
      { room: extra, reason: expect.stringContaining(`at most ${MAX_TX_ROOMS_PER_SOCKET}`) as unknown },
      { room: "tx:not-an-id", reason: "not a room" },
      { room: "evil", reason: "not a room" },
    ]);
    const joined = await txRoomsOf(client);
    expect(joined).toHaveLength(MAX_TX_ROOMS_PER_SOCKET);
    expect(joined).not.toContain(extra);

    // Leaving makes room again.
    client.emit("unsubscribe", { rooms: [first[0]] });
    expect(await subscribe(client, [extra])).toEqual({ ok: true, refused: [] });
    expect(await txRoomsOf(client)).toContain(extra);
  });

  it("holds against a flood of requests and an oversized handshake", async () => {
    const client = await connect({ rooms: Array.from({ length: 100 }, () => txRoom(randomUUID())) });
    for (let i = 0; i < 200; i++) client.emit("subscribe", { rooms: Array.from({ length: 100 }, () => txRoom(randomUUID())) });
    await subscribe(client, []);
    expect((await txRoomsOf(client)).length).toBe(MAX_TX_ROOMS_PER_SOCKET);
    expect(io.of("/").adapter.rooms.size).toBeLessThanOrEqual(MAX_TX_ROOMS_PER_SOCKET + 1);
  });
});
