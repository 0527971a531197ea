--[[
  Installs a new token base (tokens are base + n, see lockState.lua). The lock service
  calls it when a token-issuing script answered -2 (no base: Redis lost its data) or -3
  (the counter ran out). With a durable source the base is epoch * 10^9, the epoch a fresh
  value of a PostgreSQL sequence, which never hands out a value twice: above every token
  issued before, whatever Redis lost and whatever its clock says. Without one it is the
  Redis clock in µs, as tokens were before epochs: that survives data loss or a clock step
  back, not both together. A base is installed only above every token issued under the
  one in force, so racing services cannot move it back; the counter restarts.

    Input:
      KEYS[1] fence hash   ns:locks:fence
      ARGV[1] candidate epoch; "" = no durable source (the clock)

    Output: the base in force afterwards, a decimal string
]]
local span = 1000000000
local v = redis.call('HMGET', KEYS[1], 'base', 'n')
local issued = tonumber(v[1] or '0') + tonumber(v[2] or '0')
local base
if ARGV[1] ~= '' then
  base = tonumber(ARGV[1]) * span
else
  local t = redis.call('TIME')
  base = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if v[1] and base <= issued then base = issued + 1 end
end
-- base + n (n < 10^9) must stay below 2^53 to be exact in Lua and JavaScript.
if not base or base < 1 or base + span >= 9007199254740992 then
  return redis.error_reply('ERR fencing epoch out of range: ' .. tostring(ARGV[1]))
end
if not v[1] or base > issued then
  redis.call('HSET', KEYS[1], 'base', string.format('%.0f', base), 'n', '0')
  return string.format('%.0f', base)
end
return string.format('%.0f', tonumber(v[1]))
