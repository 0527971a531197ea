--[[
  Extends a live lease to now + ttl. Only the holder's own token renews it: an expired
  lease is gone for good (someone else may hold the lock now), and so is one an operator
  released.

    Input:
      KEYS[1] lock hash   ns:{lock:<key>}

      ARGV[1] owner
      ARGV[2] token of the grant
      ARGV[3] new ttl, ms

    Output:
      { 1, expiresAt }  renewed
      { 0 }             lost: not held under that token any more
]]
local lockKey = KEYS[1]
local owner, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

--- @include "lockState"

local now = nowTime()
local raw = redis.call('HGET', lockKey, 'h:' .. owner)
if not raw then return { 0 } end
local h = parseHolder(owner, raw)
if not h or h.tokenStr ~= token or h.expiresAt <= now then return { 0 } end

h.expiresAt = now + ttl
redis.call('HSET', lockKey, 'h:' .. owner, holderRecord(h))
-- Never shorten the hash's life: other shared holders may hold longer leases.
local pttl = redis.call('PTTL', lockKey)
if pttl >= 0 and now + pttl < h.expiresAt then redis.call('PEXPIREAT', lockKey, fmt(h.expiresAt)) end
return { 1, h.expiresAt }
