// Lua scripts for the queue moves that must be atomic: an entry is never in both the
// stream's pending list and the dead-letter stream, nor in neither. Inlined (not .lua
// files) so that Next's output tracing does not have to follow a runtime file read.
import type { Redis } from "ioredis";

/**
 * Moves a pending entry to the dead-letter stream.
 * KEYS: stream, dead, errors. ARGV: group, id, error ('' = the last recorded one), by, now ms,
 * delete-from-stream ('1' when the stream has one group, so the entry is done with), dead maxlen.
 * Returns {1, deadId, deliveries} or {0, reason}.
 */
const DEAD_LETTER = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then return {0, 'not-pending'} end
local deliveries = p[1][4]
local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
local err = ARGV[3]
if err == '' then err = redis.call('HGET', KEYS[3], ARGV[2]) or 'no error was recorded' end
local args = {KEYS[2], 'MAXLEN', '~', ARGV[7], '*'}
if #e > 0 then
  local f = e[1][2]
  for i = 1, #f do args[#args + 1] = f[i] end
end
for _, v in ipairs({'_origin', ARGV[2], '_group', ARGV[1], '_deliveries', tostring(deliveries), '_error', err,
    '_by', ARGV[4], '_at', ARGV[5]}) do args[#args + 1] = v end
local deadId = redis.call('XADD', unpack(args))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if ARGV[6] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
redis.call('HDEL', KEYS[3], ARGV[2])
return {1, deadId, deliveries}
`;

/**
 * Puts a dead letter back on its stream as a new entry (delivery count starts over).
 * KEYS: dead, stream. ARGV: dead id. Returns {1, newId} or {0}.
 */
const REQUEUE = `
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return {0} end
local f = e[1][2]
local args = {KEYS[2], '*'}
for i = 1, #f, 2 do
  if string.sub(f[i], 1, 1) ~= '_' then args[#args + 1] = f[i]; args[#args + 1] = f[i + 1] end
end
if #args == 2 then return {0} end
local id = redis.call('XADD', unpack(args))
redis.call('XDEL', KEYS[1], ARGV[1])
return {1, id}
`;

/**
 * Makes a pending entry due at once without counting a delivery: its idle time is set past
 * every backoff and past the reclaim threshold, so its owner retries it on its next tick,
 * or any live consumer reclaims it if the owner is gone.
 * KEYS: stream. ARGV: group, id, idle ms. Returns the owner, or false when not pending.
 */
const RETRY_NOW = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then return false end
redis.call('XCLAIM', KEYS[1], ARGV[1], p[1][2], 0, ARGV[2], 'IDLE', ARGV[3], 'JUSTID')
return p[1][2]
`;

/**
 * Empties a dead-letter stream only if it still holds exactly what the operator was shown.
 * KEYS: dead. ARGV: expected length, expected last id ('' for any when the length is 0).
 * Returns {1, removed} or {0, actual length, actual last id}.
 */
const PURGE = `
local n = redis.call('XLEN', KEYS[1])
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local lastId = ''
if #last > 0 then lastId = last[1][1] end
if tostring(n) ~= ARGV[1] or lastId ~= ARGV[2] then return {0, n, lastId} end
redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)
return {1, n}
`;

type Reply = (string | number)[];

export interface QueueScripts {
  deadLetter(keys: [string, string, string], args: string[]): Promise<Reply>;
  requeue(keys: [string, string], args: string[]): Promise<Reply>;
  retryNow(keys: [string], args: string[]): Promise<string | null>;
  purge(keys: [string], args: string[]): Promise<Reply>;
}

const DEFINED = Symbol.for("cohort.queueScripts");

/** Registers the scripts on a client once (EVALSHA with a fallback to EVAL, by ioredis). */
export function queueScripts(redis: Redis): QueueScripts {
  const r = redis as Redis & { [DEFINED]?: true } & Record<string, unknown>;
  if (!r[DEFINED]) {
    // Never auto-pipelined: an auto-pipeline pending when these are defined lacks them, and
    // ioredis then crashes the process (ioredis#1931). They run on failure and operator paths,
    // where batching buys nothing. A new array: the default one is shared by every client.
    redis.options.autoPipeliningIgnoredCommands = [
      ...(redis.options.autoPipeliningIgnoredCommands ?? []),
      "cohortQDeadLetter",
      "cohortQRequeue",
      "cohortQRetryNow",
      "cohortQPurge",
    ];
    redis.defineCommand("cohortQDeadLetter", { numberOfKeys: 3, lua: DEAD_LETTER });
    redis.defineCommand("cohortQRequeue", { numberOfKeys: 2, lua: REQUEUE });
    redis.defineCommand("cohortQRetryNow", { numberOfKeys: 1, lua: RETRY_NOW });
    redis.defineCommand("cohortQPurge", { numberOfKeys: 1, lua: PURGE });
    r[DEFINED] = true;
  }
  const call = (name: string, keys: string[], args: string[]) =>
    (r[name] as (...a: string[]) => Promise<unknown>).call(redis, ...keys, ...args);
  return {
    deadLetter: (keys, args) => call("cohortQDeadLetter", keys, args) as Promise<Reply>,
    requeue: (keys, args) => call("cohortQRequeue", keys, args) as Promise<Reply>,
    retryNow: (keys, args) => call("cohortQRetryNow", keys, args) as Promise<string | null>,
    purge: (keys, args) => call("cohortQPurge", keys, args) as Promise<Reply>,
  };
}
