--[[
  Takes leases, or queues callers as waiters: one reply per lock, in order.

  KEYS come in groups of 3 per lock, so one call can carry the acquires that several
  transactions made in the same event-loop turn (LockService batches them on a single
  Redis; on a cluster every call carries one lock, whose keys share a slot). Each caller
  still gets its answer in one round trip, and the call's fixed cost (EVALSHA, TIME, the
  helpers below) is paid once per batch.

  A waiting client calls again on every wake-up and heartbeat: the same call refreshes
  its heartbeat, prunes dead waiters and expired leases, and grants the lock when the
  caller is compatible with the holders and nobody conflicting is queued ahead of it.
  A grant is only ever taken by the waiter's own call, so no grant is made on behalf of a
  client that is gone.

    Input:
      KEYS[1] fence hash (epoch, counter)  ns:locks:fence
      For each lock i (from 1):
        KEYS[3i-1] lock hash           ns:{lock:<key>}
        KEYS[3i]   waiter queue zset   ns:{lock:<key>}:q
        KEYS[3i+1] waiter record hash  ns:{lock:<key>}:w

      ARGV[1] host of the caller
      ARGV[2] waiter heartbeat ttl, ms (a waiter is dropped if not called again within it)
      ARGV[3] wake-up channel of the calling process
      For each lock i, ARGV[3 + 5(i-1) + 1 .. 5]:
        owner (transaction id)
        mode: "x" exclusive | "s" shared
        lease ttl, ms
        waiter id; "" = try only, never queue
        owner started at, ms (deadlock victim choice; "" when not queueing)

    Output, per lock:
      { 1, token, expiresAt, acquiredAt, mode }    granted; token is a decimal string.
                                                   Re-entry returns the held token and mode
                                                   (an exclusive hold covers a shared ask)
      { 0, retryAfterMs, blockerOwner, deadline, blockerToken }
                                                   not granted; queued when a waiter id was
                                                   given (deadline = its heartbeat deadline,
                                                   0 when not queued); retryAfterMs = when
                                                   the blocker's lease or heartbeat lapses;
                                                   blockerToken "" when the blocker is a
                                                   waiter queued ahead
      { -1 }                                       the deadlock detector chose this waiter
                                                   as victim; it has left the queue
    or, instead of the list, for the whole call (nothing changed):
      -2   no fencing epoch (Redis lost its data): install one (epoch-1.lua) and call again
      -3   the epoch's tokens are used up: install a higher epoch and call again
]]
local host, waiterTtl, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3]

-- Redis server time as strings, so the fast path writes its record without formatting
-- numbers (each format costs about as much as a Redis command inside a script).
local t = redis.call('TIME')
local micros = string.rep('0', 6 - #t[2]) .. t[2]
local nowUsStr, nowMsStr = t[1] .. micros, t[1] .. string.sub(micros, 1, 3)
local now = tonumber(nowMsStr)

--- @include "lockState"

local nLocks = (#KEYS - 1) / 3
local reserved, missing = reserveTokens(KEYS[1], nLocks)
if not reserved then return missing end

local function acquireContended(lockKey, queueKey, waiterKey, owner, mode, ttl, waiterId, startedAt)
  local holders, state = loadHolders(lockKey, now)
  local waiters, pruned = loadWaiters(queueKey, waiterKey, now)

  local queued = nil
  if waiterId ~= '' then
    for _, w in ipairs(waiters) do
      if w.id == waiterId then queued = w break end
    end
  end

  if queued and queued.victim == '1' then
    removeWaiter(queueKey, waiterKey, waiters, waiterId)
    wakeReady(holders, waiters)
    if state.dirty then keepFence(lockKey, state) end
    return { -1 }
  end

  -- Re-entry: a transaction asking again for what it already holds keeps its token.
  local held = findHolder(holders, owner)
  if held and (held.mode == 'x' or mode == 's') then
    if now + ttl > held.expiresAt then held.expiresAt = now + ttl end
    redis.call('HSET', lockKey, 'h:' .. owner, holderRecord(held))
    expireLockHash(lockKey, holders, state, now)
    if queued then removeWaiter(queueKey, waiterKey, waiters, waiterId) end
    return { 1, held.tokenStr, held.expiresAt, held.acquiredAt, held.mode }
  end

  local blocker, kind = blockerOf(holders, waiters, owner, mode, waiterId)
  if not blocker then
    local token = nextToken(state, reserved)
    local grant = { owner = owner, mode = mode, token = token, tokenStr = fmt(token), acquiredAt = now, expiresAt = now + ttl, host = host }
    redis.call('HSET', lockKey, 'h:' .. owner, holderRecord(grant))
    if held then
      held.mode, held.token, held.tokenStr, held.acquiredAt, held.expiresAt = grant.mode, token, grant.tokenStr, now, grant.expiresAt
    else
      holders[#holders + 1] = grant
    end
    expireLockHash(lockKey, holders, state, now)
    if queued then removeWaiter(queueKey, waiterKey, waiters, waiterId) end
    -- Shared grants can let the next shared waiters in too; pruning may have freed the head.
    if #waiters > 0 and (mode == 's' or pruned > 0) then wakeReady(holders, waiters) end
    return { 1, grant.tokenStr, grant.expiresAt, now, mode }
  end

  local deadline = 0
  if waiterId ~= '' then
    deadline = now + waiterTtl
    redis.call('HSET', waiterKey, waiterId,
      fmt(deadline) .. '|' .. mode .. '|' .. startedAt .. '|0|' .. channel .. '|' .. owner .. '|' .. host)
    if not queued then
      redis.call('ZADD', queueKey, nowUsStr, waiterId)
      waiters[#waiters + 1] = { id = waiterId, mode = mode, owner = owner, channel = channel, deadline = deadline }
    end
    -- The queue outlives its waiters by at most one heartbeat ttl if they all crash.
    for _, k in ipairs({ queueKey, waiterKey }) do
      if redis.call('PTTL', k) < waiterTtl then redis.call('PEXPIRE', k, waiterTtl) end
    end
  end
  if pruned > 0 then wakeReady(holders, waiters) end
  if state.dirty then keepFence(lockKey, state) end

  if kind == 'holder' then
    return { 0, blocker.expiresAt - now, blocker.owner, deadline, blocker.tokenStr }
  end
  return { 0, blocker.deadline - now, blocker.owner, deadline, '' }
end

local replies = {}
for i = 1, nLocks do
  local lockKey, queueKey, waiterKey = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local a = 3 + 5 * (i - 1)
  local owner, mode, ttl = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  -- Fast path: nobody holds, waits for, or recently force-released this lock. The token
  -- comes from the fence counter, above every token issued before the hash was dropped.
  if redis.call('EXISTS', lockKey, queueKey) == 0 then
    local token = fmt(reserved.base + reserved.next)
    reserved.next = reserved.next + 1
    redis.call('HSET', lockKey, 'h:' .. owner, mode .. '|' .. token .. '|' .. nowMsStr .. '|' .. ttl .. '|' .. host)
    redis.call('PEXPIRE', lockKey, ttl)
    replies[i] = { 1, token, now + tonumber(ttl), now, mode }
  else
    replies[i] = acquireContended(lockKey, queueKey, waiterKey, owner, mode, tonumber(ttl), ARGV[a + 4], ARGV[a + 5])
  end
end
return replies
