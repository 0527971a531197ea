--[[
  Operator release of a stuck lease: compare-and-delete against the token the operator
  saw, so a lease that changed hands since is never released by mistake. The fence
  advances (a token is burnt), the release is recorded on the lock (who, why, when, which
  token), and the waiters that can go next are woken.

    Input:
      KEYS[1] fence hash          ns:locks:fence
      KEYS[2] lock hash           ns:{lock:<key>}
      KEYS[3] waiter queue zset   ns:{lock:<key>}:q
      KEYS[4] waiter record hash  ns:{lock:<key>}:w

      ARGV[1] token the operator saw
      ARGV[2] actor (who)
      ARGV[3] reason (why)
      ARGV[4] how long to keep the record on an idle lock, ms

    Output:
      { 1, beforeJson, afterJson, fence, at }  released (fence: decimal string)
      { 0, beforeJson }                        no holder has that token: nothing changed
      -2 | -3                                  no fencing epoch | epoch used up (acquire-3.lua)
    beforeJson/afterJson: JSON arrays of holders {owner, mode, token, acquiredAt, expiresAt, host}
]]
local fenceKey, lockKey, queueKey, waiterKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local expected, actor, reason, keepMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

--- @include "lockState"

local now = nowTime()
local holders, state = loadHolders(lockKey, now)
local before = {}
local target, index = nil, nil
for i, h in ipairs(holders) do
  before[#before + 1] = holderJson(h)
  if h.tokenStr == expected then target, index = h, i end
end
if not target then return { 0, cjson.encode(before) } end

local reserved, missing = reserveTokens(fenceKey, 1)
if not reserved then return missing end
table.remove(holders, index)
local fence = nextToken(state, reserved)
state.keep = now + keepMs
redis.call('HDEL', lockKey, 'h:' .. target.owner)
redis.call('HSET', lockKey, 'fence', fmt(fence), 'keep', fmt(state.keep), 'forced', cjson.encode({
  actor = actor, reason = reason, at = now, owner = target.owner, token = target.tokenStr, fence = fmt(fence),
}))
expireLockHash(lockKey, holders, state, now)

local after = {}
for _, h in ipairs(holders) do after[#after + 1] = holderJson(h) end
local waiters = loadWaiters(queueKey, waiterKey, now)
if #waiters > 0 then wakeReady(holders, waiters) end
return { 1, cjson.encode(before), cjson.encode(after), fmt(fence), now }
