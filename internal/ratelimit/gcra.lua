-- GCRA (generic cell rate algorithm) in one round trip; see redis.go.
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- A value that is not a number, or further ahead than one period (a
-- damaged key, or Redis's clock stepped back), is treated as a fresh key.
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now or tat > now + period then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0, new_tat - now}
