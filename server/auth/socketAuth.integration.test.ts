// socket.io authentication against real PostgreSQL and Redis: no cookie, no socket; a live
// session's socket joins its rooms through the fan-out; a session that ends takes its
// sockets with it.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { Server } from "socket.io";
import { io as connectClient, type Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFanout, type Fanout } from "../live/fanout";
import type { LiveReady } from "../live/protocol";
import { createTestSession } from "../testing/apiTestKit";
import { createTestEnv, type TestEnv } from "../testing/testEnv";
import { waitFor } from "../testing/waitFor";
import { hashSessionToken, revokeSession } from "./sessions";
import { authenticateSockets, socketMayJoin, type SocketAuth } from "./socketAuth";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ shards: 1, accounts: 2 });
});
afterAll(async () => {
  await env?.cleanup();
});

describe("socket authentication", () => {
  let server: http.Server;
  let io: Server;
  let auth: SocketAuth;
  let fanout: Fanout;
  let url: string;
  const clients: ClientSocket[] = [];

  beforeEach(async () => {
    server = http.createServer();
    io = new Server(server);
    auth = authenticateSockets(io, { prisma: env.prisma, log: () => undefined, recheckMs: 200 });
    fanout = await startFanout({
      io,
      redis: env.redis,
      log: () => undefined,
      stream: `test:events:${randomUUID()}`,
      mayJoin: socketMayJoin,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    auth.stop();
    await fanout.stop();
    await io.close();
  });

  const connect = (cookie: string | null) => {
    const socket = connectClient(url, {
      transports: ["websocket"],
      reconnection: false,
      auth: { rooms: ["transactions", `tx:${randomUUID()}`] },
      ...(cookie ? { extraHeaders: { cookie } } : {}),
    });
    clients.push(socket);
    return socket;
  };

  const outcome = (socket: ClientSocket) =>
    new Promise<"connected" | string>((resolve) => {
      socket.once("connect", () => resolve("connected"));
      socket.once("connect_error", (err) => resolve(err.message));
    });

  it("refuses a socket without a session cookie, or with an unknown one", async () => {
    expect(await outcome(connect(null))).toMatch(/unauthorized/);
    expect(await outcome(connect(`cohort_session=${"B".repeat(43)}`))).toMatch(/unauthorized/);
  });

  it("lets a viewer in and into the transaction rooms, and ends the socket with the session", async () => {
    const viewer = await createTestSession(env, "viewer");
    const socket = connect(viewer.cookie);
    const ready = new Promise<LiveReady>((resolve) => socket.once("live.ready", resolve));
    expect(await outcome(socket)).toBe("connected");
    expect((await ready).resync).toBe(true);
    const joined = [...io.of("/").sockets.values()][0]!;
    expect(joined.rooms.has("transactions")).toBe(true);

    const disconnected = new Promise<string>((resolve) => socket.once("disconnect", resolve));
    await revokeSession(env.prisma, hashSessionToken(viewer.cookie.split("=")[1]!));
    expect(await disconnected).toBe("io server disconnect");
    await waitFor(async () => io.of("/").sockets.size === 0, 2_000, "the server to drop the socket");
  });
});
