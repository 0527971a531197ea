--[[
  Takes a waiter out of the queue (wait timed out or was cancelled), and wakes whoever
  it was holding up: an exclusive waiter at the head blocks every waiter behind it.

    Input:
      KEYS[1] lock hash           ns:{lock:<key>}
      KEYS[2] waiter queue zset   ns:{lock:<key>}:q
      KEYS[3] waiter record hash  ns:{lock:<key>}:w

      ARGV[1] waiter id

    Output:
      1  removed
      0  was not queued (already pruned, or granted)
]]
local lockKey, queueKey, waiterKey = KEYS[1], KEYS[2], KEYS[3]
local waiterId = ARGV[1]

--- @include "lockState"

local now = nowTime()
local holders, state = loadHolders(lockKey, now)
local waiters = loadWaiters(queueKey, waiterKey, now)
local removed = removeWaiter(queueKey, waiterKey, waiters, waiterId)
if #waiters > 0 then wakeReady(holders, waiters) end
if state.dirty then keepFence(lockKey, state) end
if removed then return 1 end
return 0
