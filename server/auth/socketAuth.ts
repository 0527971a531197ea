// socket.io authentication (DESIGN.md §7): a socket is accepted only with a live session
// cookie in its handshake, and may join only the rooms its role can read. A session that
// ends later (sign-out, expiry, the user disabled) also ends its sockets, within RECHECK_MS:
// the handshake alone would let a socket outlive its session indefinitely.
import type { Server, Socket } from "socket.io";
import type { PrismaClient } from "../db/prisma";
import { errorMessage } from "../errors";
import { roleAtLeast, type Role, type SessionUser } from "./roles";
import { liveSessionHashes, lookupSession, readSessionToken } from "./sessions";

const RECHECK_MS = 30_000;

interface AuthedSocketData {
  user?: SessionUser;
  sessionHash?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- accepts sockets of any event map
type AnySocket = Socket<any, any, any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServer = Server<any, any, any, any>;

/** Every live room is read-only data, so a viewer may be in all of them. */
function roomRole(room: string): Role {
  void room;
  return "viewer";
}

export function socketUser(socket: AnySocket): SessionUser | null {
  return (socket.data as AuthedSocketData).user ?? null;
}

export function socketMayJoin(socket: AnySocket, room: string): boolean {
  const user = socketUser(socket);
  return user !== null && roleAtLeast(user.role, roomRole(room));
}

export interface SocketAuth {
  stop(): void;
}

export function authenticateSockets(
  io: AnyServer,
  opts: { prisma: PrismaClient; log: (line: string) => void; recheckMs?: number },
): SocketAuth {
  const { prisma, log } = opts;
  io.use((socket, next) => {
    const token = readSessionToken(socket.request.headers.cookie);
    lookupSession(prisma, token).then(
      (session) => {
        if (!session) return next(new Error("unauthorized: sign in to the console"));
        const data = socket.data as AuthedSocketData;
        data.user = session.user;
        data.sessionHash = session.tokenHash;
        next();
      },
      (err: unknown) => {
        log(`[live] socket authentication failed: ${errorMessage(err)}`);
        next(new Error("authentication unavailable"));
      },
    );
  });

  let running = false;
  const recheck = async () => {
    if (running) return;
    running = true;
    try {
      const sockets = [...io.of("/").sockets.values()];
      const hashes = [...new Set(sockets.map((s) => (s.data as AuthedSocketData).sessionHash).filter((h) => h !== undefined))];
      const live = await liveSessionHashes(prisma, hashes);
      for (const socket of sockets) {
        const hash = (socket.data as AuthedSocketData).sessionHash;
        if (!hash || !live.has(hash)) socket.disconnect(true);
      }
    } catch (err) {
      log(`[live] session re-check failed: ${errorMessage(err)}`);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void recheck(), opts.recheckMs ?? RECHECK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
