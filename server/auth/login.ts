// Signing in (POST /api/auth/login). Every failure answers the same generic message and takes
// about the same time, so the endpoint does not reveal which names exist or are disabled.
import type { Redis } from "ioredis";
import type { PrismaClient } from "../db/prisma";
import { CohortError } from "../errors";
import { DEFAULT_LOGIN_LIMITS, loginKeys, recordLoginSuccess, reserveLoginAttempt, type LoginLimits } from "./loginRateLimit";
import { verifyAgainstNothing, verifyPassword } from "./passwords";
import type { SessionUser } from "./roles";
import { createSession, type NewSession } from "./sessions";

export const LOGIN_FAILED_MESSAGE = "wrong user name or password";

export interface LoginInput {
  name: string;
  password: string;
  /** The TCP peer (see loginRateLimit.ts); null when unknown. */
  address: string | null;
  /** The deployment namespace: users live in its coordinator database, so its counters are its own. */
  namespace: string;
  userAgent: string | null;
}

export interface LoginResult {
  user: SessionUser;
  session: NewSession;
}

export async function login(
  prisma: PrismaClient,
  redis: Redis,
  input: LoginInput,
  limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
): Promise<LoginResult> {
  const name = input.name.trim().toLowerCase();
  const keys = loginKeys(name, input.address, `${input.namespace}:login`);
  const attempt = await reserveLoginAttempt(redis, keys, limits);
  if (!attempt.allowed) {
    const minutes = Math.ceil(attempt.retryAfterSeconds / 60);
    throw new CohortError(
      "RATE_LIMITED",
      `too many failed sign-in attempts: try again in ${minutes === 1 ? "a minute" : `${minutes} minutes`}`,
      { details: { retryAfterSeconds: attempt.retryAfterSeconds } },
    );
  }
  const user = await prisma.user.findUnique({
    where: { name },
    select: { id: true, name: true, role: true, passwordHash: true, disabledAt: true },
  });
  const ok =
    user && user.disabledAt === null
      ? await verifyPassword(input.password, user.passwordHash)
      : await verifyAgainstNothing(input.password);
  if (!ok || !user) throw new CohortError("UNAUTHENTICATED", LOGIN_FAILED_MESSAGE);
  await recordLoginSuccess(redis, keys);
  const session = await createSession(prisma, user.id, { address: input.address, userAgent: input.userAgent });
  return { user: { id: user.id, name: user.name, role: user.role }, session };
}
