-- wrk script: GET /kv/key<N> for random N in [0, keys); set KEYS in the environment (default 100000).
local keys = tonumber(os.getenv("KEYS") or "100000")
request = function()
  return wrk.format("GET", "/kv/key" .. math.random(0, keys - 1))
end
