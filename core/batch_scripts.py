"""Lua scripts that change batch state atomically (see :mod:`core.batch_store` for the keys)."""

# KEYS: meta, results, running, stats. ARGV: ttl, now, chunk id or '', batch error or '',
# then quadruples of (index, json, failed 0/1, digit string).
# A row is counted only when HSETNX adds it, so the counters, the per-digit statistics and
# the final status move exactly once per image however often a chunk runs.
RECORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local added_ok, added_failed = 0, 0
for i = 5, #ARGV, 4 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    if ARGV[i + 2] == '1' then added_failed = added_failed + 1 else added_ok = added_ok + 1 end
    for d in string.gmatch(ARGV[i + 3], '%d') do redis.call('HINCRBY', KEYS[4], 'digit:' .. d, 1) end
  end
end
if added_ok > 0 then redis.call('HINCRBY', KEYS[4], 'batch:done', added_ok) end
if added_failed > 0 then redis.call('HINCRBY', KEYS[4], 'batch:failed', added_failed) end
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[3], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'error', ARGV[4]) end
local ok = redis.call('HINCRBY', KEYS[1], 'done', added_ok)
local failed = redis.call('HINCRBY', KEYS[1], 'failed', added_failed)
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
if ok + failed >= total and redis.call('HGET', KEYS[1], 'status') == 'queued' then
  local final = 'done'
  if redis.call('HEXISTS', KEYS[1], 'error') == 1 then final = 'failed' end
  redis.call('HSET', KEYS[1], 'status', final, 'finished_at', ARGV[2])
  redis.call('DEL', KEYS[3])
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return {added_ok, added_failed}
"""

# KEYS: meta. ARGV: now, owner or ''. Returns the status before the call, or nil for no such
# batch (or one of another owner, when an owner is given); only a batch still in progress
# becomes cancelled.
CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return nil end
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[1], 'updated_at', ARGV[1])
end
return status
"""
