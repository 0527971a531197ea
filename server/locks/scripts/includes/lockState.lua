--[[
  Shared by the lock scripts (pasted in by the loader at `--- @include "lockState"`).

  Every script decides on the same pruned view of one lock: leases whose expiresAt has
  passed are dropped, and so are waiters whose heartbeat deadline has passed (a crashed
  waiter must not hold up the FIFO queue behind it).

  Records (all fields are plain strings, so a record is one HGET away and cheap to parse):
    fence hash  field "base"     token base: fencing epoch * 10^9 (epoch-1.lua)
                field "n"        tokens issued since (a token is base + n)
    lock hash   field "fence"    highest token issued to holders that have left while the
                                 hash stayed (the holders' own tokens count as well)
                field "h:<owner>" "<mode>|<token>|<acquiredAt>|<leaseMs>|<host>"
                                 (expiresAt = acquiredAt + leaseMs: the fast path writes
                                 the record by concatenating strings, no number formatting)
                field "forced"   JSON of the last operator release (who, why, when, token)
                field "keep"     ms until which the hash is kept for that record
    waiter hash field <waiterId> "<deadline>|<mode>|<ownerStartedAt>|<victim>|<channel>|<owner>|<host>"
    queue zset  member <waiterId>, score = enqueue time in microseconds (FIFO order)
  Owners and channels never contain "|" (checked by the service); hosts may, so host is last.
]]

-- Redis server time: the one clock every holder and waiter is judged by.
local function nowTime()
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return math.floor(us / 1000), us
end

-- Lua's tostring prints 1.7e+15; tokens and times need every digit.
local function fmt(n)
  return string.format('%.0f', n)
end

local function conflicts(a, b)
  return a == 'x' or b == 'x'
end

local function parseHolder(owner, v)
  local mode, token, acquiredAt, leaseMs, host = string.match(v, '^(%a)|(%d+)|(%d+)|(%d+)|(.*)$')
  if not mode then return nil end
  local acq = tonumber(acquiredAt)
  return {
    owner = owner, mode = mode, token = tonumber(token), tokenStr = token,
    acquiredAt = acq, expiresAt = acq + tonumber(leaseMs), host = host,
  }
end

local function holderRecord(h)
  return h.mode .. '|' .. h.tokenStr .. '|' .. fmt(h.acquiredAt) .. '|' .. fmt(h.expiresAt - h.acquiredAt) .. '|' .. h.host
end

-- Holders with live leases; expired ones are deleted on the way. state.fence is the
-- highest token issued that the hash still knows of (the "fence" field, written when a
-- holder leaves a hash that stays, and every holder's token).
local function loadHolders(lockKey, now)
  local raw = redis.call('HGETALL', lockKey)
  local holders, state = {}, { fence = 0, forced = nil, keep = 0, dirty = false }
  for i = 1, #raw, 2 do
    local f, v = raw[i], raw[i + 1]
    if f == 'fence' then
      local fence = tonumber(v)
      if fence > state.fence then state.fence = fence end
    elseif f == 'forced' then
      state.forced = v
    elseif f == 'keep' then
      state.keep = tonumber(v)
    else
      local h = parseHolder(string.sub(f, 3), v)
      if h and h.token > state.fence then state.fence = h.token end
      if h and h.expiresAt > now then
        holders[#holders + 1] = h
      else
        redis.call('HDEL', lockKey, f)
        state.dirty = true
      end
    end
  end
  return holders, state
end

local function findHolder(holders, owner)
  for i, h in ipairs(holders) do
    if h.owner == owner then return h, i end
  end
  return nil, nil
end

-- Live waiters in FIFO order; waiters that stopped heartbeating are removed.
-- Returns the waiters and how many dead ones were dropped.
local function loadWaiters(queueKey, waiterKey, now)
  local ids = redis.call('ZRANGE', queueKey, 0, -1, 'WITHSCORES')
  local waiters, pruned = {}, 0
  if #ids == 0 then return waiters, pruned end
  local names = {}
  for i = 1, #ids, 2 do names[#names + 1] = ids[i] end
  -- In chunks: unpack() of a very long queue would overflow Lua's stack.
  local metas = {}
  for from = 1, #names, 500 do
    local part = redis.call('HMGET', waiterKey, unpack(names, from, math.min(from + 499, #names)))
    for j = 1, #part do metas[from + j - 1] = part[j] end
  end
  for i, id in ipairs(names) do
    local m = metas[i]
    local deadline, mode, startedAt, victim, channel, owner, host
    if m then
      deadline, mode, startedAt, victim, channel, owner, host =
        string.match(m, '^(%d+)|(%a)|(%-?%d+)|(%d)|([^|]*)|([^|]*)|(.*)$')
    end
    if deadline and tonumber(deadline) > now then
      waiters[#waiters + 1] = {
        id = id, deadline = tonumber(deadline), mode = mode, startedAt = tonumber(startedAt),
        victim = victim, channel = channel, owner = owner, host = host,
        enqueuedUs = tonumber(ids[i * 2]),
      }
    else
      redis.call('ZREM', queueKey, id)
      redis.call('HDEL', waiterKey, id)
      pruned = pruned + 1
    end
  end
  return waiters, pruned
end

local function removeWaiter(queueKey, waiterKey, waiters, id)
  redis.call('ZREM', queueKey, id)
  redis.call('HDEL', waiterKey, id)
  for i, w in ipairs(waiters) do
    if w.id == id then
      table.remove(waiters, i)
      return true
    end
  end
  return false
end

-- What stops `owner` from taking the lock in `mode` now: a conflicting holder, else a
-- conflicting waiter queued ahead of `selfId` (every waiter is ahead of a newcomer, so
-- nobody barges past the queue). An owner that already holds the lock (an upgrade from
-- shared) only waits for the other holders: queued waiters are waiting for it anyway.
local function blockerOf(holders, waiters, owner, mode, selfId)
  local holdsIt = false
  for _, h in ipairs(holders) do
    if h.owner == owner then
      holdsIt = true
    elseif conflicts(h.mode, mode) then
      return h, 'holder'
    end
  end
  if holdsIt then return nil, nil end
  for _, w in ipairs(waiters) do
    if w.id == selfId then break end
    if conflicts(w.mode, mode) then return w, 'waiter' end
  end
  return nil, nil
end

-- Tells the waiters that could take the lock now to try again. Grants are only ever
-- taken by the waiter's own acquire call, so a wake-up that reaches nobody (crashed
-- waiter) costs nothing but the heartbeat delay until that waiter is pruned.
local function wakeReady(holders, waiters)
  local exclusiveAhead, anyAhead = false, false
  for _, w in ipairs(waiters) do
    local blocked = false
    local holdsIt = false
    for _, h in ipairs(holders) do
      if h.owner == w.owner then
        holdsIt = true
      elseif conflicts(h.mode, w.mode) then
        blocked = true
      end
    end
    if not holdsIt then
      if w.mode == 'x' and anyAhead then blocked = true end
      if w.mode == 's' and exclusiveAhead then blocked = true end
    end
    if not blocked and w.channel ~= '' then
      redis.call('PUBLISH', w.channel, w.id)
    end
    anyAhead = true
    if w.mode == 'x' then exclusiveAhead = true end
  end
end

-- The lock hash lives exactly as long as its longest lease (or the operator record's
-- `keep`), so a crashed holder leaves nothing behind. Dropping the hash also drops the
-- per-lock fence: tokens never go back because they come from the one fence counter.
local function expireLockHash(lockKey, holders, state, now)
  local untilMs = 0
  if state.keep > now then untilMs = state.keep end
  for _, h in ipairs(holders) do
    if h.expiresAt > untilMs then untilMs = h.expiresAt end
  end
  if untilMs > 0 then
    redis.call('PEXPIREAT', lockKey, fmt(untilMs))
  else
    redis.call('DEL', lockKey)
  end
end

-- Fencing tokens are epoch * 10^9 + n. n counts up in the fence hash, so no clock step can
-- make a token go back; the epoch comes from a durable source outside Redis (a PostgreSQL
-- sequence, fetched by the lock service only when the fence hash is missing, that is when
-- Redis lost its data, or when n runs out), so a Redis that lost everything still hands out
-- tokens above every one it handed out before. Tokens stay below 2^53, exact in Lua and JS.
local TOKEN_SPAN = 1000000000

-- Reserves `need` tokens of the current epoch. Nil and a code the caller returns as the
-- whole reply when there is no epoch (-2: Redis lost its data, or first use) or the epoch
-- is used up (-3); nothing has changed then.
local function reserveTokens(fenceKey, need)
  local v = redis.call('HMGET', fenceKey, 'base', 'n')
  if not v[1] then return nil, -2 end
  local n = tonumber(v[2] or '0')
  if n + need >= TOKEN_SPAN then return nil, -3 end
  redis.call('HINCRBY', fenceKey, 'n', need)
  return { base = tonumber(v[1]), next = n + 1 }, nil
end

-- Next fencing token from the reserved ones, above every token this lock knows of too.
local function nextToken(state, reserved)
  local t = reserved.base + reserved.next
  reserved.next = reserved.next + 1
  if t <= state.fence then t = state.fence + 1 end
  state.fence = t
  return t
end

-- After holders left a hash that stays (other holders, waiters, operator record), keep
-- their highest token in it: the next grant must still outrank them if the clock stepped back.
local function keepFence(lockKey, state)
  if redis.call('EXISTS', lockKey) == 1 then redis.call('HSET', lockKey, 'fence', fmt(state.fence)) end
end

local function holderJson(h)
  return {
    owner = h.owner, mode = h.mode, token = h.tokenStr, acquiredAt = h.acquiredAt,
    expiresAt = h.expiresAt, host = h.host,
  }
end
