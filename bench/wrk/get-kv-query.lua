-- wrk script: GET /kv/key<N><QUERY> for random N in [0, keys); set KEYS and QUERY (e.g. "?w=1") in the environment.
local keys = tonumber(os.getenv("KEYS") or "100000")
local query = os.getenv("QUERY") or ""
request = function()
  return wrk.format("GET", "/kv/key" .. math.random(0, keys - 1) .. query)
end
