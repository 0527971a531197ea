--[[
  Flags a waiter as the victim of a deadlock and wakes it. Its next acquire call (made at
  once, on the wake-up) leaves the queue and fails with DEADLOCK_VICTIM. Flagging the
  queue entry rather than the transaction makes the mark vanish with the wait: a waiter
  that got its lock or left meanwhile is not harmed.

    Input:
      KEYS[1] waiter queue zset   ns:{lock:<key>}:q
      KEYS[2] waiter record hash  ns:{lock:<key>}:w

      ARGV[1] waiter id
      ARGV[2] owner the detector saw waiting under that id

    Output:
      1  flagged and woken
      0  that wait is over (not queued any more, or under another owner)
]]
local queueKey, waiterKey = KEYS[1], KEYS[2]
local waiterId, owner = ARGV[1], ARGV[2]

if not redis.call('ZSCORE', queueKey, waiterId) then return 0 end
local raw = redis.call('HGET', waiterKey, waiterId)
if not raw then return 0 end
local deadline, mode, startedAt, _, channel, waiterOwner, host =
  string.match(raw, '^(%d+)|(%a)|(%-?%d+)|(%d)|([^|]*)|([^|]*)|(.*)$')
if waiterOwner ~= owner then return 0 end
redis.call('HSET', waiterKey, waiterId,
  deadline .. '|' .. mode .. '|' .. startedAt .. '|1|' .. channel .. '|' .. waiterOwner .. '|' .. host)
if channel ~= '' then redis.call('PUBLISH', channel, waiterId) end
return 1
