--[[
  A short leadership lease, e.g. for the deadlock detector: the holder renews it, others
  take it only once it has lapsed, and a ttl of 0 gives it up (compare-and-delete).

    Input:
      KEYS[1] lease key
      ARGV[1] candidate id
      ARGV[2] ttl, ms; "0" = give it up if held by the candidate

    Output:
      1  the candidate holds the lease (or gave it up)
      0  someone else holds it
]]
local key, me, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
local current = redis.call('GET', key)
if ttl == 0 then
  if current == me then redis.call('DEL', key) end
  return 1
end
if current == me then
  redis.call('PEXPIRE', key, ttl)
  return 1
end
if current then return 0 end
redis.call('SET', key, me, 'PX', ttl)
return 1
