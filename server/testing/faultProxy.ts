// A TCP proxy that injects network faults between a client and PostgreSQL or Redis, for the
// chaos campaign (scripts/chaos.ts) and tests. Faults are real socket behaviour, not mocks:
//
// - partition(): every connection, old and new, goes silent in both directions. Sockets are
//   paused rather than closed, so the kernel buffers fill and the peers see what a black-holed
//   network looks like: no error, no answer, until a timeout of their own.
// - heal(): traffic flows again (what TCP retransmission does after a short partition), or,
//   with `reset`, every connection held across the partition is cut (what a long one does).
// - loseReplies(pattern): PostgreSQL only. The proxy reads the frontend protocol (a type byte
//   and an int32 length per message; Query 'Q' and Parse 'P' carry SQL, Bind 'B' names the
//   statement it runs), forwards a matching statement through its Sync, waits until the
//   server has answered (so the statement ran), drops that answer and cuts the connection:
//   the statement took effect but the client never hears. Named statements are matched by the
//   SQL (or name) of their Parse, which pg sends only once per connection.
import net from "node:net";

export type ProxyProtocol = "postgres" | "raw";

export interface FaultProxyOptions {
  /** Where traffic goes. */
  target: { host: string; port: number };
  /** "postgres" parses the frontend protocol (needed for loseReplies). */
  protocol: ProxyProtocol;
  /** Port to listen on (default: any free port). */
  port?: number;
  name?: string;
}

export interface FaultProxy {
  readonly name: string;
  readonly port: number;
  readonly partitioned: boolean;
  /** Statements whose reply was dropped so far. */
  readonly lostReplies: number;
  /** Open client connections. */
  readonly connections: number;
  partition(): void;
  heal(opts?: { reset?: boolean }): void;
  /** The next `count` statements whose SQL (or prepared-statement name) matches lose their reply. */
  loseReplies(pattern: RegExp, count?: number): void;
  stopLosingReplies(): void;
  /** Cuts every open connection (both sides). */
  resetConnections(): void;
  close(): Promise<void>;
}

/** The URL with its host and port replaced by the proxy's (127.0.0.1:port). */
export function proxiedUrl(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(port);
  return u.toString();
}

/** Host and port of a postgres:// or redis:// URL (defaults 5432 / 6379). */
export function endpointOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  const fallback = u.protocol.startsWith("redis") ? 6379 : 5432;
  return { host: u.hostname || "127.0.0.1", port: u.port ? Number(u.port) : fallback };
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
/** After the server starts answering a lost statement, how long it gets to finish writing before the cut. */
const CUT_AFTER_REPLY_MS = 100;
/** A lost statement whose server never answers is cut after this anyway. */
const CUT_DEADLINE_MS = 5_000;

interface Conn {
  client: net.Socket;
  upstream: net.Socket | null;
  /** Frontend parser state (postgres only). */
  buf: Buffer;
  startup: boolean;
  /** Prepared-statement name → its SQL ("" is the unnamed statement). */
  statements: Map<string, string>;
  /** "forwarding" normally; after a lost statement's trigger, forward up to its Sync, then drop everything. */
  lost: "no" | "until-sync" | "dropping";
  cutTimer: NodeJS.Timeout | null;
  replySeen: boolean;
  /** Connected while partitioned: reset on heal({ reset: true }). */
  heldAcrossPartition: boolean;
  closed: boolean;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const conns = new Set<Conn>();
  let partitioned = false;
  let lossPattern: RegExp | null = null;
  let lossLeft = 0;
  let lostReplies = 0;

  const destroy = (c: Conn) => {
    if (c.closed) return;
    c.closed = true;
    if (c.cutTimer) clearTimeout(c.cutTimer);
    c.client.destroy();
    c.upstream?.destroy();
    conns.delete(c);
  };

  const connectUpstream = (c: Conn) => {
    const up = net.connect(opts.target.port, opts.target.host);
    c.upstream = up;
    up.setNoDelay(true);
    up.on("error", () => destroy(c));
    up.on("close", () => destroy(c));
    up.on("data", (chunk: Buffer) => {
      if (c.lost === "no") {
        c.client.write(chunk);
        return;
      }
      // The server answered the lost statement, so it ran: let it finish the reply, then cut.
      if (c.lost !== "dropping" || c.replySeen) return;
      c.replySeen = true;
      if (c.cutTimer) clearTimeout(c.cutTimer);
      c.cutTimer = setTimeout(() => destroy(c), CUT_AFTER_REPLY_MS);
      c.cutTimer.unref();
    });
    if (partitioned) up.pause();
  };

  /** Parses frontend messages in `chunk`; returns the bytes to forward (all, or up to the lost statement's Sync). */
  const inspect = (c: Conn, chunk: Buffer): Buffer => {
    if (opts.protocol !== "postgres" || c.lost === "dropping") return c.lost === "dropping" ? Buffer.alloc(0) : chunk;
    c.buf = c.buf.length ? Buffer.concat([c.buf, chunk]) : chunk;
    // Offset in `chunk` where the current buffer starts (earlier bytes were already forwarded).
    const base = c.buf.length - chunk.length;
    let off = 0;
    let cutAt = -1;
    while (cutAt < 0) {
      if (c.startup) {
        if (c.buf.length - off < 8) break;
        const len = c.buf.readInt32BE(off);
        if (len < 8 || c.buf.length - off < len) break;
        const code = c.buf.readInt32BE(off + 4);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) c.startup = false;
        off += len;
        continue;
      }
      if (c.buf.length - off < 5) break;
      const type = String.fromCharCode(c.buf[off]!);
      const len = c.buf.readInt32BE(off + 1);
      if (len < 4) break; // not the protocol we think: stop inspecting this connection
      if (c.buf.length - off < 1 + len) break;
      const body = c.buf.subarray(off + 5, off + 1 + len);
      off += 1 + len;
      if (c.lost === "until-sync") {
        if (type === "S") cutAt = off;
        continue;
      }
      if (!lossPattern || lossLeft <= 0) {
        if (type === "P") {
          const [name, sql] = cstrings(body, 2);
          c.statements.set(name ?? "", sql ?? "");
        }
        continue;
      }
      let hit = false;
      if (type === "Q") {
        const [sql] = cstrings(body, 1);
        hit = lossPattern.test(sql ?? "");
        if (hit) cutAt = off;
      } else if (type === "P") {
        const [name, sql] = cstrings(body, 2);
        c.statements.set(name ?? "", sql ?? "");
      } else if (type === "B") {
        const [, statement] = cstrings(body, 2);
        const sql = c.statements.get(statement ?? "") ?? "";
        hit = lossPattern.test(sql) || (statement !== "" && lossPattern.test(statement ?? ""));
        if (hit) c.lost = "until-sync";
      }
      if (hit) {
        lossLeft--;
        lostReplies++;
      }
    }
    c.buf = c.buf.subarray(off);
    if (cutAt < 0) return chunk;
    c.lost = "dropping";
    c.buf = Buffer.alloc(0);
    c.cutTimer = setTimeout(() => destroy(c), CUT_DEADLINE_MS);
    c.cutTimer.unref();
    return chunk.subarray(0, Math.max(0, cutAt - base));
  };

  const server = net.createServer((client) => {
    const c: Conn = {
      client,
      upstream: null,
      buf: Buffer.alloc(0),
      startup: true,
      statements: new Map(),
      lost: "no",
      cutTimer: null,
      replySeen: false,
      heldAcrossPartition: partitioned,
      closed: false,
    };
    conns.add(c);
    client.setNoDelay(true);
    client.on("error", () => destroy(c));
    client.on("close", () => destroy(c));
    client.on("data", (chunk: Buffer) => {
      const out = inspect(c, chunk);
      if (out.length && c.upstream && !c.closed) c.upstream.write(out);
    });
    // A black hole accepts the connection and says nothing: connect upstream only on heal.
    if (partitioned) client.pause();
    else connectUpstream(c);
  });
  server.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    name: opts.name ?? `proxy:${port}`,
    port,
    get partitioned() {
      return partitioned;
    },
    get lostReplies() {
      return lostReplies;
    },
    get connections() {
      return conns.size;
    },
    partition() {
      partitioned = true;
      for (const c of conns) {
        c.heldAcrossPartition = true;
        c.client.pause();
        c.upstream?.pause();
      }
    },
    heal(healOpts = {}) {
      partitioned = false;
      for (const c of [...conns]) {
        if (healOpts.reset && c.heldAcrossPartition) {
          destroy(c);
          continue;
        }
        c.heldAcrossPartition = false;
        if (!c.upstream) connectUpstream(c);
        c.client.resume();
        c.upstream?.resume();
      }
    },
    loseReplies(pattern, count = 1) {
      lossPattern = new RegExp(pattern.source, pattern.flags.replace("g", ""));
      lossLeft = count;
    },
    stopLosingReplies() {
      lossPattern = null;
      lossLeft = 0;
    },
    resetConnections() {
      for (const c of [...conns]) destroy(c);
    },
    close: async () => {
      for (const c of [...conns]) destroy(c);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The first `n` NUL-terminated strings of a message body. */
function cstrings(body: Buffer, n: number): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, start);
    if (end < 0) break;
    out.push(body.toString("utf8", start, end));
    start = end + 1;
  }
  return out;
}
