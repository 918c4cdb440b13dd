-- POST form bodies to one URL, like real API v2 clients.
--
--   wrk -t2 -c64 -d5s -s bench/lua/bodies.lua http://127.0.0.1:PORT/api/v2 -- BODIES_FILE
--
-- BODIES_FILE holds one urlencoded body per line (written by bench/run.py); each thread
-- cycles through them from its own starting point, so that ids vary between requests
-- without generating anything in Lua on the hot path.
-- done() prints one line "BENCH_JSON {...}" that bench/run.py parses.

local bodies = {}
local index = 0
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    if #line > 0 then
      bodies[#bodies + 1] = wrk.format("POST", nil, headers, line)
    end
  end
  file:close()
  assert(#bodies > 0, "no bodies in " .. args[1])
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  index = math.random(0, #bodies - 1)
end

function request()
  index = index + 1
  if index > #bodies then
    index = 1
  end
  return bodies[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
