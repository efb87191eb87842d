-- wrk script: GET /get?key=key<N> for random N in [0, keys) (the seed's read endpoint).
local keys = tonumber(os.getenv("KEYS") or "100000")
request = function()
  return wrk.format("GET", "/get?key=key" .. math.random(0, keys - 1))
end
