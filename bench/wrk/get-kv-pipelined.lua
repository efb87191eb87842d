-- wrk script: DEPTH (default 16) pipelined GET /kv/key<N> per write, N random in [0, keys).
-- wrk counts each response, so Requests/sec is responses per second.
local keys = tonumber(os.getenv("KEYS") or "100000")
local depth = tonumber(os.getenv("DEPTH") or "16")
request = function()
  local batch = {}
  for i = 1, depth do
    batch[i] = wrk.format("GET", "/kv/key" .. math.random(0, keys - 1))
  end
  return table.concat(batch)
end
