--[[
  Reads one lock as the console and the deadlock detector see it: live holders and live
  waiters in queue order. Changes nothing (expired entries are skipped, not deleted).

    Input:
      KEYS[1] lock hash           ns:{lock:<key>}
      KEYS[2] waiter queue zset   ns:{lock:<key>}:q
      KEYS[3] waiter record hash  ns:{lock:<key>}:w

    Output:
      JSON { now, fence (highest token the lock knows of), holders: [{owner, mode, token, acquiredAt, expiresAt, host}],
             waiters: [{id, owner, mode, ownerStartedAt, enqueuedAt, deadline, victim, host}],
             forced: <JSON string of the last operator release> | null }
      (an empty list may come back as {}: Lua tables do not know arrays from maps)
]]
local lockKey, queueKey, waiterKey = KEYS[1], KEYS[2], KEYS[3]

--- @include "lockState"

local now = nowTime()
local holders, waiters = {}, {}
local fence, forced = '0', false
local raw = redis.call('HGETALL', lockKey)
for i = 1, #raw, 2 do
  local f, v = raw[i], raw[i + 1]
  if f == 'fence' then
    if tonumber(v) > tonumber(fence) then fence = v end
  elseif f == 'forced' then
    forced = v
  elseif string.sub(f, 1, 2) == 'h:' then
    local h = parseHolder(string.sub(f, 3), v)
    if h then
      if h.token > tonumber(fence) then fence = h.tokenStr end
      if h.expiresAt > now then holders[#holders + 1] = holderJson(h) end
    end
  end
end

local ids = redis.call('ZRANGE', queueKey, 0, -1, 'WITHSCORES')
for i = 1, #ids, 2 do
  local m = redis.call('HGET', waiterKey, ids[i])
  if m then
    local deadline, mode, startedAt, victim, channel, owner, host =
      string.match(m, '^(%d+)|(%a)|(%-?%d+)|(%d)|([^|]*)|([^|]*)|(.*)$')
    if tonumber(deadline) > now then
      waiters[#waiters + 1] = {
        id = ids[i], owner = owner, mode = mode, ownerStartedAt = tonumber(startedAt),
        enqueuedAt = math.floor(tonumber(ids[i + 1]) / 1000), deadline = tonumber(deadline),
        victim = victim == '1', host = host,
      }
    end
  end
end

return cjson.encode({ now = now, fence = fence, holders = holders, waiters = waiters, forced = forced })
