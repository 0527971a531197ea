// RabbitMQ queue depths for the Queues page, beside the Redis streams.
//
// AMQP's passive queue.declare answers at once and exactly, but only with ready messages
// and consumers. The management API also knows how many messages are delivered and not yet
// acknowledged, but its figures are samples (every 5 s by default), so it supplies just that
// figure, and the others only when AMQP could not answer (an exclusive queue of another
// connection refuses a passive declare; the management API still reports it).
//
// The console polls this for every viewer, so a dead or hung broker must cost at most a
// timeout or two, never an exception and never a hung request.
import { connect, type Channel, type ChannelModel } from "amqplib";
import type { RabbitQueueFigures } from "./types";

export interface RabbitDepthsOptions {
  /** amqp://user:pass@host:5672/vhost; the vhost is the path ("/" when empty). */
  url: string;
  queues: string[];
  /** http://user:pass@host:15672; without userinfo, the AMQP URL's credentials are used. */
  managementUrl?: string | null;
  /** Bounds connecting and each request to the broker. Default 2000. */
  timeoutMs?: number;
}

interface QueueCounts {
  ready: number | null;
  unacknowledged: number | null;
  consumers: number | null;
}

const QUEUE_NOT_FOUND = "queue not found";
/** AMQP reply codes that close only the channel: the queue's problem, not the connection's. */
const CHANNEL_ERRORS = new Set([403, 404, 405, 406]);
/** Shown in the broker's connection list, so operators can tell who is polling. */
export const RABBIT_CONNECTION_NAME = "cohort console: queue depths";

class TimeoutError extends Error {}
class ClosedError extends Error {
  constructor() {
    super("collector closed");
  }
}

export class RabbitDepths {
  readonly vhost: string;
  private readonly url: string;
  private readonly publicUrl: string;
  private readonly queues: readonly string[];
  private readonly management: { base: string; headers: Record<string, string> } | null;
  private readonly timeoutMs: number;
  private model: Promise<ChannelModel> | null = null;
  private channel: Promise<Channel> | null = null;
  private inFlight: Promise<RabbitQueueFigures[]> | null = null;
  private closed = false;

  constructor(opts: RabbitDepthsOptions) {
    this.url = opts.url;
    this.publicUrl = withoutUserinfo(opts.url);
    this.queues = [...opts.queues];
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.vhost = vhostOf(opts.url);
    this.management = opts.managementUrl ? managementTarget(opts.managementUrl, opts.url) : null;
  }

  /** Figures for every configured queue, in the configured order. Never throws: an unreachable broker or a missing queue yields figures with `error` set and null counts. */
  collect(): Promise<RabbitQueueFigures[]> {
    // Concurrent viewers share one round: it is the same answer, and two rounds on one
    // channel would let one round's 404 close the channel under the other.
    this.inFlight ??= this.collectRound().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  async close(): Promise<void> {
    this.closed = true;
    const model = this.model;
    this.model = null;
    this.channel = null;
    if (!model) return;
    try {
      await this.bounded((await model).close(), "closing");
    } catch {
      // Already closed by the broker, never opened, or hung: nothing more to release here.
    }
  }

  private async collectRound(): Promise<RabbitQueueFigures[]> {
    if (this.closed) return this.queues.map((name) => this.failed(name, new ClosedError().message));
    // Started first so the HTTP requests overlap the AMQP round trips.
    const fromManagement = this.queues.map((name) => this.fromManagement(name));
    const figures: RabbitQueueFigures[] = [];
    // Once the connection fails, the remaining queues share its error rather than each
    // waiting out another timeout against the same broker.
    let brokerError: string | null = null;
    for (const [i, name] of this.queues.entries()) {
      let counts: QueueCounts | null = null;
      let error: string | null = brokerError;
      if (error === null) {
        try {
          const ok = await this.checkQueue(name);
          counts = { ready: ok.messageCount, unacknowledged: null, consumers: ok.consumerCount };
        } catch (err) {
          const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
          if (typeof code === "number" && CHANNEL_ERRORS.has(code)) {
            error = code === 404 ? QUEUE_NOT_FOUND : `queue check refused: ${serverReply(err)}`;
          } else if (err instanceof ClosedError) {
            error = brokerError = err.message;
          } else {
            error = brokerError = `RabbitMQ at ${this.publicUrl}: ${messageOf(err)}`;
            this.dropConnection();
          }
        }
      }
      const managed = await fromManagement[i];
      if (counts) {
        figures.push(this.figures(name, { ...counts, unacknowledged: managed?.unacknowledged ?? null }, null));
      } else if (managed && managed.ready !== null && error !== QUEUE_NOT_FOUND) {
        figures.push(this.figures(name, managed, null));
      } else {
        figures.push(this.failed(name, error ?? "no figures"));
      }
    }
    return figures;
  }

  private failed(name: string, error: string): RabbitQueueFigures {
    return this.figures(name, { ready: null, unacknowledged: null, consumers: null }, error);
  }

  private figures(name: string, counts: QueueCounts, error: string | null): RabbitQueueFigures {
    return { source: "rabbitmq", name, vhost: this.vhost, ...counts, error };
  }

  private async checkQueue(name: string) {
    const opening = this.openChannel();
    const channel = await opening;
    try {
      return await this.bounded(channel.checkQueue(name), `checking queue "${name}"`);
    } catch (err) {
      // The broker closes the channel on any failed declare; the 'close' event normally
      // clears it already, this makes sure the next queue never gets the dead one.
      if (this.channel === opening) this.channel = null;
      throw err;
    }
  }

  private openChannel(): Promise<Channel> {
    if (this.channel) return this.channel;
    const opening = (async () => {
      const model = await this.connection();
      const channel = await this.bounded(model.createChannel(), "opening a channel");
      // A 404 is also emitted as 'error' on the channel. Unheard, amqplib's frame loop
      // turns the throw into a socket error and drops the whole connection with it.
      channel.on("error", () => undefined);
      channel.on("close", () => {
        if (this.channel === opening) this.channel = null;
      });
      return channel;
    })();
    opening.catch(() => {
      if (this.channel === opening) this.channel = null;
    });
    this.channel = opening;
    return opening;
  }

  private connection(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new ClosedError());
    if (this.model) return this.model;
    const opening = (async () => {
      // The socket timeout covers a silent TCP connect or handshake; bounded() covers the
      // whole of it, and closes a connection that arrives after we gave up on it.
      const model = await this.bounded(
        connect(this.url, { timeout: this.timeoutMs, clientProperties: { connection_name: RABBIT_CONNECTION_NAME } }),
        "connecting",
        (late) => void late.close().catch(() => undefined),
      );
      // Errors are followed by 'close', which is where we forget the connection; an
      // 'error' without a listener would crash the process.
      model.on("error", () => undefined);
      model.on("close", () => {
        if (this.model === opening) {
          this.model = null;
          this.channel = null;
        }
      });
      if (this.closed) {
        void model.close().catch(() => undefined);
        throw new ClosedError();
      }
      return model;
    })();
    opening.catch(() => {
      if (this.model === opening) this.model = null;
    });
    this.model = opening;
    return opening;
  }

  /** Forgets a connection that failed or stopped answering, so the next round opens a new one. */
  private dropConnection(): void {
    const model = this.model;
    this.model = null;
    this.channel = null;
    void model?.then((m) => m.close()).catch(() => undefined);
  }

  private async fromManagement(name: string): Promise<QueueCounts | null> {
    if (!this.management) return null;
    const url = `${this.management.base}/api/queues/${encodeURIComponent(this.vhost)}/${encodeURIComponent(name)}`;
    try {
      const res = await fetch(url, { headers: this.management.headers, signal: AbortSignal.timeout(this.timeoutMs) });
      if (!res.ok) {
        await res.body?.cancel();
        return null;
      }
      const body = (await res.json()) as Record<string, unknown> | null;
      if (!body || typeof body !== "object") return null;
      return {
        ready: count(body.messages_ready),
        unacknowledged: count(body.messages_unacknowledged),
        consumers: count(body.consumers),
      };
    } catch {
      // A management API that is down or refuses us costs only the unacknowledged figure.
      return null;
    }
  }

  private bounded<T>(promise: Promise<T>, what: string, disposeLate?: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new TimeoutError(`${what} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      promise.then(
        (value) => {
          clearTimeout(timer);
          if (timedOut) disposeLate?.(value);
          else resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }
}

/** Management figures arrive only after the broker's first stats emission for the queue. */
function count(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The vhost amqplib connects to: the URL path without its leading slash, "/" when empty. */
function vhostOf(url: string): string {
  try {
    const path = new URL(url).pathname.replace(/^\//, "");
    return path ? decodeURIComponent(path) : "/";
  } catch {
    return "/";
  }
}

function managementTarget(managementUrl: string, amqpUrl: string): { base: string; headers: Record<string, string> } {
  const url = new URL(managementUrl);
  let user = decodeURIComponent(url.username);
  let pass = decodeURIComponent(url.password);
  if (!user && !pass) {
    try {
      const amqp = new URL(amqpUrl);
      user = decodeURIComponent(amqp.username);
      pass = decodeURIComponent(amqp.password);
    } catch {
      // An unparsable AMQP URL fails on connect and says so there.
    }
  }
  url.username = "";
  url.password = "";
  url.search = "";
  url.hash = "";
  const headers: Record<string, string> = { accept: "application/json" };
  if (user || pass) headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  return { base: url.toString().replace(/\/+$/, ""), headers };
}

/** The URL as it may be shown: figures go to the console and into logs. */
function withoutUserinfo(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/** An error's message with any URL userinfo removed, in case a library quotes the URL. */
function messageOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1");
}

/** The broker's own words from an amqplib channel error ("NOT_FOUND - no queue …"). */
function serverReply(err: unknown): string {
  const message = messageOf(err);
  return /with message "(.*)"$/s.exec(message)?.[1] ?? message;
}
