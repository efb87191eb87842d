-- wrk script: PUT /kv/key<N> with a 100-byte value for random N in [0, keys).
local keys = tonumber(os.getenv("KEYS") or "100000")
local body = string.rep("v", tonumber(os.getenv("VALUE_SIZE") or "100"))
request = function()
  return wrk.format("PUT", "/kv/key" .. math.random(0, keys - 1), nil, body)
end
