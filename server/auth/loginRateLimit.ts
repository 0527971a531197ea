// Brute-force brake for POST /api/auth/login, in Redis so that every console instance
// shares the counts. Two fixed-window counters are kept:
//   cohort:login:user:<name>    guesses against one account, from anywhere (5 per 5 minutes)
//   cohort:login:addr:<address> guesses from one client address, over any names (20 per 5 minutes,
//                               higher because several operators may share a NAT or proxy)
// Attempts are counted *before* the password is checked, so a burst of parallel requests
// cannot slip more guesses past the limit than it allows; a successful login then takes its
// attempt back. The address is the TCP peer as seen by the console's HTTP server
// (startConsole.ts puts it in CLIENT_ADDRESS_HEADER, overwriting anything the client sent).
// Behind a reverse proxy every request has the proxy's address, so the per-address counter
// then limits the proxy as a whole; the per-name counter is unaffected.
import type { Redis } from "ioredis";

export const CLIENT_ADDRESS_HEADER = "x-cohort-client-address";

export interface LimitRule {
  max: number;
  windowMs: number;
}

export interface LoginLimits {
  perUser: LimitRule;
  perAddress: LimitRule;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perUser: { max: 5, windowMs: 5 * 60_000 },
  perAddress: { max: 20, windowMs: 5 * 60_000 },
};

export type LoginAttempt = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface LoginKeys {
  user: string;
  address: string;
}

// INCR with the expiry set on the first hit: a fixed window, so hammering a locked account
// does not extend the lock. The PTTL repair covers a key that lost its expiry.
const INCREMENT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`;

// Only while the window lasts: a DECR on an expired key would create one that never expires.
const GIVE_BACK = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0`;

export function loginKeys(name: string, address: string | null | undefined, prefix = "cohort:login"): LoginKeys {
  // Bounded and normalised so that "Admin " and "admin" share one counter.
  const user = name.trim().toLowerCase().slice(0, 64);
  return { user: `${prefix}:user:${user}`, address: `${prefix}:addr:${(address || "unknown").slice(0, 64)}` };
}

/** Counts one attempt; refused once either counter is over its limit in the current window. */
export async function reserveLoginAttempt(
  redis: Redis,
  keys: LoginKeys,
  limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
): Promise<LoginAttempt> {
  const [user, address] = await Promise.all([
    redis.eval(INCREMENT, 1, keys.user, limits.perUser.windowMs) as Promise<[number, number]>,
    redis.eval(INCREMENT, 1, keys.address, limits.perAddress.windowMs) as Promise<[number, number]>,
  ]);
  const waits: number[] = [];
  if (user[0] > limits.perUser.max) waits.push(user[1]);
  if (address[0] > limits.perAddress.max) waits.push(address[1]);
  if (waits.length === 0) return { allowed: true };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...waits) / 1000)) };
}

/** A correct password: the account's failures are forgiven and the address gets its attempt back. */
export async function recordLoginSuccess(redis: Redis, keys: LoginKeys): Promise<void> {
  await Promise.all([redis.del(keys.user), redis.eval(GIVE_BACK, 1, keys.address)]);
}
