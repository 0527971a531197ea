// The console: Next.js and socket.io on one HTTP server (DESIGN.md §1, §6). Route
// handlers and server components reach the clients built by server/main.ts through
// setRuntime, because Next.js bundles them apart from this module.
import http from "node:http";
import path from "node:path";
import { createAdapter } from "@socket.io/redis-adapter";
import next from "next";
import { Server } from "socket.io";
import { CLIENT_ADDRESS_HEADER } from "../auth/loginRateLimit";
import { authenticateSockets, socketMayJoin } from "../auth/socketAuth";
import { errorMessage } from "../errors";
import { listenError } from "../infra/freePort";
import { eventsStream } from "../live/events";
import { startFanout, type Fanout } from "../live/fanout";
import { LIVE_EVENTS, type ClientToServerEvents, type ServerToClientEvents } from "../live/protocol";
import { logRedisErrors } from "../live/redisErrors";
import { setRuntime, type Runtime } from "../runtime";
import { answerMalformedPath } from "./malformedPath";
import { settleWithin } from "./settleWithin";
import { setSourceHealthMonitor, startSourceHealth } from "./sourceHealth";

export interface StartConsoleOptions {
  runtime: Runtime;
  host: string;
  /** 0 picks a free port; the returned url has the real one. */
  port: number;
  dev: boolean;
  log: (line: string) => void;
}

export interface ConsoleHandle {
  url: string;
  close(): Promise<void>;
}

const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
/** In-flight requests get this long to finish on close before their sockets are cut. */
const CLOSE_GRACE_MS = 3_000;
const QUIT_WAIT_MS = 500;

export async function startConsole(opts: StartConsoleOptions): Promise<ConsoleHandle> {
  const { runtime, host, port, dev, log } = opts;
  const namespace = runtime.queues.namespace;
  setRuntime(runtime);
  // Next.js telemetry would try the network, which these machines do not have.
  process.env.NEXT_TELEMETRY_DISABLED = "1";

  const server = http.createServer();
  const app = next({ dev, dir: REPO_ROOT, hostname: host, port, httpServer: server });
  await app.prepare();
  const handle = app.getRequestHandler();
  server.on("request", (req, res) => {
    // The login rate limit keys on the TCP peer; a client-sent value must not count.
    req.headers[CLIENT_ADDRESS_HEADER] = req.socket.remoteAddress ?? "unknown";
    if (answerMalformedPath(req, res)) return;
    handle(req, res).catch((err: unknown) => {
      log(`[console] ${req.method} ${req.url} failed: ${errorMessage(err)}`);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });

  // Without auto-pipelining: the adapter's close() sends UNSUBSCRIBE without awaiting it, and
  // an auto-pipelined one would go out after our QUIT and reject as "Connection is closed".
  const pub = runtime.redis.duplicate({ enableAutoPipelining: false });
  const sub = runtime.redis.duplicate({ enableAutoPipelining: false });
  logRedisErrors(pub, "socket.io adapter (publish)", log);
  logRedisErrors(sub, "socket.io adapter (subscribe)", log);
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(server, {
    serveClient: false,
    // The adapter's channels carry the namespace too: two deployments' consoles on one Redis
    // would otherwise broadcast into each other's rooms.
    adapter: createAdapter(pub, sub, { key: `${namespace}:socket.io` }),
    // Browsers do not apply CORS to WebSockets, so cross-site pages could otherwise open
    // a socket with the operator's cookies once sockets are authenticated (DESIGN.md §7).
    allowRequest: (req, callback) => callback(null, isSameOrigin(req)),
  });

  // Sockets are accepted only with a live session cookie (DESIGN.md §7).
  const socketAuth = authenticateSockets(io, { prisma: runtime.prisma, log });
  // Every browser learns which sources are down on connect and on each change, so no page
  // looks live while the data behind it cannot be read.
  const health = startSourceHealth({
    pool: runtime.pool,
    redis: runtime.redis,
    log,
    onChange: (now) => io.local.emit(LIVE_EVENTS.sources, now),
  });
  setSourceHealthMonitor(health);
  io.on("connection", (socket) => socket.emit(LIVE_EVENTS.sources, health.current()));
  let fanout: Fanout | null = null;
  try {
    fanout = await startFanout({ io, redis: runtime.redis, stream: eventsStream(namespace), log, mayJoin: socketMayJoin });
    await listen(server, host, port);
  } catch (err) {
    socketAuth.stop();
    health.stop();
    setSourceHealthMonitor(null);
    await fanout?.stop();
    await io.close();
    await app.close();
    pub.disconnect();
    sub.disconnect();
    throw err;
  }

  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;
  log(`[console] ${dev ? "development" : "production"} console at ${url}`);

  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    socketAuth.stop();
    health.stop();
    setSourceHealthMonitor(null);
    await fanout?.stop();
    // A dead Redis would hold the adapter's UNSUBSCRIBE (and so io.close) through the client's
    // retries: cut those connections first, the adapter's commands then fail at once.
    if (pub.status !== "ready" || sub.status !== "ready") {
      pub.disconnect();
      sub.disconnect();
    }
    // io.close() also closes the HTTP server, which waits for open connections: idle
    // keep-alive ones are dropped now, busy ones after the grace period.
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    force.unref();
    server.closeIdleConnections();
    await io.close().catch((err: unknown) => log(`[console] closing sockets: ${errorMessage(err)}`));
    clearTimeout(force);
    await app.close();
    // QUIT waits for an answer a dead Redis never gives (its retries last minutes): a short
    // wait for a clean goodbye, then the sockets are cut.
    await settleWithin(Promise.allSettled([pub.quit(), sub.quit()]), QUIT_WAIT_MS);
    pub.disconnect();
    sub.disconnect();
  };

  return {
    url,
    close: () => (closing ??= close()),
  };
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(listenError(err, host, port));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function isSameOrigin(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  // Non-browser clients (tests, tools) send no Origin; browsers always do on WebSockets.
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
