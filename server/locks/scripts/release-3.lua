--[[
  Gives leases back: compare-and-delete on each holder's own token, so a holder whose
  lease expired (and was perhaps granted to someone else since) can never release the
  new holder's lease. Wakes the waiters that can go next. One reply per lock, in order;
  like acquire, one call may carry the releases of several transactions.

    Input:
      For each lock i (from 1):
        KEYS[3i-2] lock hash           ns:{lock:<key>}
        KEYS[3i-1] waiter queue zset   ns:{lock:<key>}:q
        KEYS[3i]   waiter record hash  ns:{lock:<key>}:w
        ARGV[2i-1] owner
        ARGV[2i]   token of the grant being released

    Output, per lock:
      1  released
      0  not held under that token (lease expired, force-released, or never granted)
]]

--- @include "lockState"

local function releaseContended(lockKey, queueKey, waiterKey, token)
  local now = nowTime()
  local holders, state = loadHolders(lockKey, now)
  local released = tonumber(token)
  if released > state.fence then state.fence = released end
  expireLockHash(lockKey, holders, state, now)
  keepFence(lockKey, state)
  local waiters = loadWaiters(queueKey, waiterKey, now)
  if #waiters > 0 then wakeReady(holders, waiters) end
end

local replies = {}
for i = 1, #KEYS / 3 do
  local lockKey, queueKey, waiterKey = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local owner, token = ARGV[2 * i - 1], ARGV[2 * i]
  -- The record starts "<mode>|<token>|": compare the token as a string, no parsing.
  local record = redis.call('HGET', lockKey, 'h:' .. owner)
  if not record or string.sub(record, 3, 2 + #token) ~= token or string.byte(record, 3 + #token) ~= 124 then
    replies[i] = 0
  else
    -- An expired lease is still this holder's until someone prunes it (which happens
    -- only while taking the lock), so releasing it takes nothing away from anyone.
    redis.call('HDEL', lockKey, 'h:' .. owner)
    -- Fast path: the hash went away with its last field and nobody waits.
    if redis.call('EXISTS', lockKey, queueKey) ~= 0 then releaseContended(lockKey, queueKey, waiterKey, token) end
    replies[i] = 1
  end
end
return replies
