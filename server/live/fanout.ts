// Tails the event stream and pushes transaction updates to socket.io rooms
// (DESIGN.md §6), with burst coalescing and gap-free catch-up for reconnecting clients.
//
// Every console instance tails the stream itself and emits to its *local* sockets only:
// sending stream events through the Redis adapter as well would deliver each one once per
// console instance. The adapter stays attached for broadcasts that originate in a single
// instance.
import type { Redis } from "ioredis";
import type { Server, Socket } from "socket.io";
import { z } from "zod";
import { errorMessage } from "../errors";
import { decodeEvent } from "./events";
import { logRedisErrors } from "./redisErrors";
import {
  LIVE_EVENTS,
  QUEUES_ROOM,
  RING_ROOM,
  TRANSACTIONS_ROOM,
  compareStreamIds,
  txRoom,
  type ClientToServerEvents,
  type LiveReady,
  type LiveTxEvent,
  type ServerToClientEvents,
  type SubscribeAck,
} from "./protocol";

type LiveServer = Server<ClientToServerEvents, ServerToClientEvents>;
type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

const streamId = z.string().regex(/^\d{1,20}-\d{1,20}$/);
const room = z.union([
  z.enum([TRANSACTIONS_ROOM, "locks", QUEUES_ROOM, RING_ROOM]),
  z.string().regex(/^tx:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
]);
const rooms = z.array(z.string().max(200)).max(100);
const subscribeRequest = z.object({ rooms });
const handshake = z.object({ lastEventId: streamId.optional(), rooms: rooms.optional() });
/**
 * Each tx:<id> room costs the server memory for as long as the socket lives, and a viewer
 * may name any id: without a cap one socket could join millions (issue 10).
 */
export const MAX_TX_ROOMS_PER_SOCKET = 64;

export interface FanoutOptions {
  io: LiveServer;
  /** Used for non-blocking reads (catch-up); the tail runs on a duplicate of it. */
  redis: Redis;
  log: (line: string) => void;
  /** The deployment's events stream, eventsStream(namespace); tests use their own. */
  stream: string;
  /** Each transaction is emitted at most once per window; the latest state wins. */
  coalesceMs?: number;
  /** Beyond this many missed events a client is told to refetch instead of replaying. */
  replayLimit?: number;
  /** Room authorisation (server/auth/socketAuth.ts); rooms it refuses are left out (and named in the ack). */
  mayJoin?: (socket: LiveSocket, room: string) => boolean;
}

export interface Fanout {
  stop(): Promise<void>;
}

const READ_COUNT = 1000;
const BLOCK_MS = 5000;
const RETRY_MS = 1000;
const REPLAY_PAGE = 1000;
const CATCH_UP_ROUNDS = 5;

export async function startFanout(opts: FanoutOptions): Promise<Fanout> {
  const { io, redis, log } = opts;
  const stream = opts.stream;
  const coalesceMs = opts.coalesceMs ?? 50;
  const replayLimit = opts.replayLimit ?? 20_000;
  const mayJoin = opts.mayJoin ?? (() => true);
  const tail = redis.duplicate();
  logRedisErrors(tail, "live event reader", log);

  // Read from the current tail id rather than `$`: catch-up needs to know exactly which
  // position the live emits start from, and `$` does not say.
  let readThrough = (await latestStreamId(redis, stream)) ?? "0-0";
  /** Every stream event at or before this id has been emitted (or was irrelevant). */
  let emittedThrough = readThrough;
  const pending = new Map<string, LiveTxEvent>();
  let flushTimer: NodeJS.Timeout | null = null;
  let stopped = false;

  const flush = () => {
    flushTimer = null;
    const batch = [...pending.values()].sort((a, b) => compareStreamIds(a.eventId, b.eventId));
    pending.clear();
    emittedThrough = readThrough;
    if (batch.length === 0) return;
    const local = io.local;
    const roomsNow = io.of("/").adapter.rooms;
    if (roomsNow.has(TRANSACTIONS_ROOM)) local.to(TRANSACTIONS_ROOM).emit(LIVE_EVENTS.txUpdated, batch);
    for (const event of batch) {
      const name = txRoom(event.id);
      if (roomsNow.has(name)) local.to(name).emit(LIVE_EVENTS.txUpdated, [event]);
    }
  };

  const accept = (id: string, fields: string[]) => {
    readThrough = id;
    const event = toLiveEvent(id, fields);
    if (event) {
      pending.set(event.id, event);
      flushTimer ??= setTimeout(flush, coalesceMs);
      return;
    }
    forwardRingEvent(id, fields);
    if (pending.size === 0) emittedThrough = id;
  };

  // Ring events go out at once: the executor already throttles its progress events.
  const forwardRingEvent = (id: string, fields: string[]) => {
    const event = decodeEvent(fields);
    if ((event?.type === "ring.changed" || event?.type === "ring.rebalance") && io.of("/").adapter.rooms.has(RING_ROOM)) {
      io.local.to(RING_ROOM).emit(LIVE_EVENTS.ringUpdated, { ...event, eventId: id });
    } else if (event?.type === "queues.sampled" && io.of("/").adapter.rooms.has(QUEUES_ROOM)) {
      io.local.to(QUEUES_ROOM).emit(LIVE_EVENTS.queuesSampled, { at: event.at });
    }
  };

  const loop = (async () => {
    // Logged once per outage: the reader retries every second while Redis is away.
    let failing = false;
    while (!stopped) {
      try {
        const reply = await tail.xread("COUNT", READ_COUNT, "BLOCK", BLOCK_MS, "STREAMS", stream, readThrough);
        if (failing) log(`[live] reading ${stream} again`);
        failing = false;
        for (const [, entries] of reply ?? []) for (const [id, fields] of entries) accept(id, fields);
      } catch (err) {
        if (stopped) break;
        if (!failing) log(`[live] reading ${stream} failed, retrying every ${RETRY_MS} ms: ${errorMessage(err)}`);
        failing = true;
        await sleep(RETRY_MS);
      }
    }
  })();

  /** Joins the rooms and tells the client where it now stands; see LiveReady. */
  const ready = (socket: LiveSocket, wanted: string[], resync: boolean, lastEventId: string): void => {
    if (!socket.connected) return;
    void socket.join(wanted);
    socket.emit(LIVE_EVENTS.ready, { lastEventId: lastEventId === "0-0" ? null : lastEventId, resync } satisfies LiveReady);
  };

  const catchUp = async (socket: LiveSocket, wanted: string[], cursor: string | undefined): Promise<void> => {
    if (cursor === undefined || !(await cursorStillInStream(redis, stream, cursor))) {
      return ready(socket, wanted, true, emittedThrough);
    }
    const missed = new Map<string, LiveTxEvent>();
    const matches = roomFilter(wanted);
    let from = cursor;
    let scanned = 0;
    // Joining only once nothing newer than the replay has been emitted makes the hand-over
    // gap-free and ordered: later events reach the socket through its rooms, and pending
    // ones already covered by the replay arrive with ids the client has seen and drops.
    for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
      for (;;) {
        const page = await redis.xrange(stream, `(${from}`, "+", "COUNT", REPLAY_PAGE);
        for (const [id, fields] of page) {
          from = id;
          const event = toLiveEvent(id, fields);
          if (event && matches(event.id)) missed.set(event.id, event);
        }
        scanned += page.length;
        if (scanned > replayLimit) return ready(socket, wanted, true, emittedThrough);
        if (page.length < REPLAY_PAGE) break;
      }
      if (!socket.connected) return;
      if (compareStreamIds(emittedThrough, from) <= 0) {
        const replay = [...missed.values()].sort((a, b) => compareStreamIds(a.eventId, b.eventId));
        for (let i = 0; i < replay.length; i += REPLAY_PAGE) {
          socket.emit(LIVE_EVENTS.txUpdated, replay.slice(i, i + REPLAY_PAGE));
        }
        return ready(socket, wanted, false, from);
      }
    }
    ready(socket, wanted, true, emittedThrough);
  };

  io.on("connection", (socket: LiveSocket) => {
    const auth = handshake.safeParse(socket.handshake.auth);
    // The handshake cursor applies to the first rooms joined: the handshake's own, or the
    // first `subscribe` from clients that do not send rooms in the handshake.
    const cursor = auth.success ? auth.data.lastEventId : undefined;
    let cursorUsed = false;
    // One catch-up at a time per socket, so joins and replays cannot interleave.
    let queue: Promise<void> = Promise.resolve();
    const enqueue = (work: () => Promise<void>) => {
      queue = queue.then(work).catch((err: unknown) => log(`[live] room change for ${socket.id} failed: ${errorMessage(err)}`));
    };
    /** This socket's tx rooms, joined or queued to join: the cap counts both. */
    const txRooms = new Set<string>();
    const join = (requested: string[]): SubscribeAck => {
      const refused: SubscribeAck["refused"] = [];
      const wanted: string[] = [];
      for (const name of new Set(requested)) {
        if (!room.safeParse(name).success) refused.push({ room: name.slice(0, 80), reason: "not a room" });
        else if (!mayJoin(socket, name)) refused.push({ room: name, reason: "not allowed" });
        else if (name.startsWith("tx:") && !txRooms.has(name) && txRooms.size >= MAX_TX_ROOMS_PER_SOCKET) {
          refused.push({ room: name, reason: `at most ${MAX_TX_ROOMS_PER_SOCKET} transaction rooms per connection` });
        } else {
          if (name.startsWith("tx:")) txRooms.add(name);
          wanted.push(name);
        }
      }
      const ack = { ok: refused.length === 0, refused };
      if (wanted.length === 0) return ack;
      const useCursor = !cursorUsed;
      cursorUsed = true;
      enqueue(async () => {
        if (!useCursor) return socket.join(wanted);
        // A socket left out of its rooms would look live and show nothing: on failure it
        // joins anyway and is told to refetch.
        await catchUp(socket, wanted, cursor).catch((err: unknown) => {
          log(`[live] catch-up for ${socket.id} failed: ${errorMessage(err)}`);
          ready(socket, wanted, true, emittedThrough);
        });
      });
      return ack;
    };

    if (auth.success && auth.data.rooms) join(auth.data.rooms);
    socket.on(LIVE_EVENTS.subscribe, (request: unknown, ack?: unknown) => {
      const parsed = subscribeRequest.safeParse(request);
      const answer = parsed.success
        ? join(parsed.data.rooms)
        : { ok: false, refused: [{ room: "", reason: "malformed request" }] };
      if (typeof ack === "function") (ack as (a: SubscribeAck) => void)(answer);
    });
    socket.on(LIVE_EVENTS.unsubscribe, (request: unknown) => {
      const parsed = subscribeRequest.safeParse(request);
      if (!parsed.success) return;
      for (const name of parsed.data.rooms) txRooms.delete(name);
      enqueue(async () => {
        for (const name of parsed.data.rooms) await socket.leave(name);
      });
    });
  });

  return {
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (flushTimer) clearTimeout(flushTimer);
      pending.clear();
      // Rejects the blocked XREAD, which ends the loop.
      tail.disconnect();
      await loop;
    },
  };
}

function toLiveEvent(eventId: string, fields: string[]): LiveTxEvent | null {
  const event = decodeEvent(fields);
  if (!event || event.type !== "tx.updated") return null;
  return { eventId, id: event.id, status: event.status, label: event.label, at: event.at };
}

function roomFilter(wanted: string[]): (txId: string) => boolean {
  if (wanted.includes(TRANSACTIONS_ROOM)) return () => true;
  const ids = new Set(wanted.filter((r) => r.startsWith("tx:")).map((r) => r.slice(3)));
  return (txId) => ids.has(txId);
}

async function latestStreamId(redis: Redis, stream: string): Promise<string | null> {
  const [last] = await redis.xrevrange(stream, "+", "-", "COUNT", 1);
  return last ? last[0] : null;
}

/**
 * The stream is capped (MAXLEN ~), so a cursor older than its first entry may have had
 * events trimmed after it; an empty stream means Redis lost everything.
 */
async function cursorStillInStream(redis: Redis, stream: string, cursor: string): Promise<boolean> {
  const [first] = await redis.xrange(stream, "-", "+", "COUNT", 1);
  return first !== undefined && compareStreamIds(first[0], cursor) <= 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
