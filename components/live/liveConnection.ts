// The browser's single socket.io connection, shared by every component that shows live
// data. It remembers the newest event id it delivered; the handshake of every reconnect
// carries that id and the current rooms, so the server replays exactly what was missed.
import { io, type Socket } from "socket.io-client";
import {
  LIVE_EVENTS,
  QUEUES_ROOM,
  RING_ROOM,
  TRANSACTIONS_ROOM,
  compareStreamIds,
  type ClientToServerEvents,
  type LiveHandshake,
  type LiveReady,
  type LiveRingEvent,
  type LiveSourceHealth,
  type LiveTxEvent,
  type ServerToClientEvents,
} from "@/server/live/protocol";

/** "stalled": connected, but the console cannot read the event stream (Redis is down). */
export type ConnectionState = "live" | "stalled" | "reconnecting" | "offline";

export interface ConnectionSnapshot {
  state: ConnectionState;
  /** False until the first successful connect, so the UI can say "connecting". */
  everConnected: boolean;
}

export interface LiveSubscription {
  rooms: readonly string[];
  /** Called with the events of this subscription's rooms, oldest first, without duplicates. */
  onTxEvents(events: LiveTxEvent[]): void;
  /** Called when updates may have been missed: refetch whatever is on screen. */
  onResync(): void;
  /** Ring events, for subscriptions to the ring room. */
  onRingEvent?(event: LiveRingEvent): void;
  /** New queue figures were sampled (about once a second), for subscriptions to the queues room. */
  onQueuesSampled?(event: { at: number }): void;
}

type LiveClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Outlives React Strict Mode's unmount/remount and quick page transitions. */
const IDLE_DISCONNECT_MS = 2_000;
const SERVER_DISCONNECT_RETRY_MS = 1_000;

class LiveConnection {
  private socket: LiveClientSocket | null = null;
  private snapshot: ConnectionSnapshot = { state: "reconnecting", everConnected: false };
  private lastEventId: string | null = null;
  private readonly subscriptions = new Set<LiveSubscription>();
  private readonly roomUsers = new Map<string, number>();
  /** Rooms the server has joined for the current socket. */
  private joined = new Set<string>();
  private handshakeRooms: string[] = [];
  private readonly stateListeners = new Set<() => void>();
  private readonly healthListeners = new Set<(health: LiveSourceHealth) => void>();
  /** From the server's last "sources.health": the event stream lives in Redis. */
  private streamDown = false;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;

  subscribe(subscription: LiveSubscription): () => void {
    this.subscriptions.add(subscription);
    for (const room of subscription.rooms) this.roomUsers.set(room, (this.roomUsers.get(room) ?? 0) + 1);
    this.ensureSocket();
    this.syncRooms();
    return () => {
      this.subscriptions.delete(subscription);
      for (const room of subscription.rooms) {
        const users = (this.roomUsers.get(room) ?? 1) - 1;
        if (users > 0) this.roomUsers.set(room, users);
        else this.roomUsers.delete(room);
      }
      this.syncRooms();
      if (this.subscriptions.size === 0) this.scheduleIdleDisconnect();
    };
  }

  subscribeState = (listener: () => void): (() => void) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };

  getSnapshot = (): ConnectionSnapshot => this.snapshot;

  /** The server's source health as it changes (and once on every connect). */
  onSourceHealth(listener: (health: LiveSourceHealth) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  private ensureSocket(): void {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (this.socket) return;
    const socket: LiveClientSocket = io({
      // WebSocket only: long polling would need sticky sessions across console instances.
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      // Evaluated on every (re)connect, so the handshake always carries the current cursor.
      auth: (cb) => cb(this.handshake()),
    });
    socket.on("connect", () => {
      this.joined = new Set(this.handshakeRooms);
      this.syncRooms();
      this.refreshState();
    });
    socket.on("disconnect", (reason) => {
      this.joined.clear();
      // Only a server-initiated disconnect stops socket.io's own reconnection.
      if (reason === "io server disconnect") {
        setTimeout(() => {
          if (this.socket === socket && !socket.connected) socket.connect();
        }, SERVER_DISCONNECT_RETRY_MS);
      }
      this.refreshState();
    });
    socket.on("connect_error", () => this.refreshState());
    socket.io.on("reconnect_attempt", () => this.refreshState());
    socket.io.on("reconnect_failed", () => this.refreshState());
    socket.on(LIVE_EVENTS.txUpdated, (events) => this.deliver(events));
    // Not through the cursor: ring events are not replayed, and a ring event's id must not
    // make a coalesced batch of older transaction events look like repeats.
    socket.on(LIVE_EVENTS.ringUpdated, (event) => {
      for (const subscription of this.subscriptions) {
        if (subscription.rooms.includes(RING_ROOM)) subscription.onRingEvent?.(event);
      }
    });
    // A signal to refetch, not state: nothing to replay or order either.
    socket.on(LIVE_EVENTS.queuesSampled, (event) => {
      for (const subscription of this.subscriptions) {
        if (subscription.rooms.includes(QUEUES_ROOM)) subscription.onQueuesSampled?.(event);
      }
    });
    socket.on(LIVE_EVENTS.ready, (ready) => this.onReady(ready));
    socket.on(LIVE_EVENTS.sources, (health) => {
      this.streamDown = health.sources.some((s) => s.source === "Redis" && !s.up);
      this.refreshState();
      for (const listener of this.healthListeners) listener(health);
    });
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.socket = socket;
    this.refreshState();
  }

  private handshake(): LiveHandshake {
    this.handshakeRooms = [...this.roomUsers.keys()];
    return { rooms: this.handshakeRooms, ...(this.lastEventId ? { lastEventId: this.lastEventId } : {}) };
  }

  /** Brings the server's rooms for this socket in line with what subscribers want. */
  private syncRooms(): void {
    const socket = this.socket;
    if (!socket?.connected) return;
    const wanted = [...this.roomUsers.keys()];
    const join = wanted.filter((room) => !this.joined.has(room));
    const leave = [...this.joined].filter((room) => !this.roomUsers.has(room));
    if (join.length > 0) socket.emit(LIVE_EVENTS.subscribe, { rooms: join });
    if (leave.length > 0) socket.emit(LIVE_EVENTS.unsubscribe, { rooms: leave });
    this.joined = new Set(wanted);
  }

  private deliver(events: LiveTxEvent[]): void {
    // A socket in several rooms, or one that just replayed, can receive an event twice;
    // events arrive in stream order, so anything not newer than the cursor is a repeat.
    const fresh = events.filter((e) => this.lastEventId === null || compareStreamIds(e.eventId, this.lastEventId) > 0);
    const newest = fresh.at(-1);
    if (!newest) return;
    this.lastEventId = newest.eventId;
    for (const subscription of this.subscriptions) {
      const mine = subscription.rooms.includes(TRANSACTIONS_ROOM)
        ? fresh
        : fresh.filter((e) => subscription.rooms.includes(`tx:${e.id}`));
      if (mine.length > 0) subscription.onTxEvents(mine);
    }
  }

  private onReady(ready: LiveReady): void {
    if (ready.lastEventId && (this.lastEventId === null || compareStreamIds(ready.lastEventId, this.lastEventId) > 0)) {
      this.lastEventId = ready.lastEventId;
    }
    if (ready.resync) for (const subscription of this.subscriptions) subscription.onResync();
  }

  private scheduleIdleDisconnect(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.subscriptions.size > 0 || !this.socket) return;
      this.socket.removeAllListeners();
      this.socket.io.removeAllListeners();
      this.socket.disconnect();
      this.socket = null;
      this.joined.clear();
      // Nobody applied the events from here on, so a later connection must start fresh.
      this.lastEventId = null;
      window.removeEventListener("online", this.onOnline);
      window.removeEventListener("offline", this.onOffline);
      this.refreshState();
    }, IDLE_DISCONNECT_MS);
  }

  private onOnline = (): void => {
    if (this.socket && !this.socket.connected) this.socket.connect();
    this.refreshState();
  };

  private onOffline = (): void => this.refreshState();

  private refreshState(): void {
    const socket = this.socket;
    const online = typeof navigator === "undefined" || navigator.onLine !== false;
    const state: ConnectionState = socket?.connected
      ? this.streamDown
        ? "stalled"
        : "live"
      : socket?.active && online
        ? "reconnecting"
        : "offline";
    const everConnected = this.snapshot.everConnected || state === "live" || state === "stalled";
    if (state === this.snapshot.state && everConnected === this.snapshot.everConnected) return;
    this.snapshot = { state, everConnected };
    for (const listener of this.stateListeners) listener();
  }
}

export const liveConnection = new LiveConnection();

/** What server rendering and hydration show before the socket exists. */
export const SERVER_SNAPSHOT: ConnectionSnapshot = { state: "reconnecting", everConnected: false };
