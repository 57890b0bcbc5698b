-- wrk: POST one GraphQL body (file in arg 1) with a key (arg 2, "-" for none); an answer
-- that is not 200, carries "errors", or lacks the substring in arg 3 (when given) is a
-- failure. Prints one RESULT line with the rate of good answers and the failures.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
  if args[2] and args[2] ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
  expect = args[3]
  failures = 0
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) or (expect and not body:find(expect, 1, true)) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT req/s=%.1f p50=%.2fms p99=%.2fms failed=%d\n",
    (summary.requests - failed) / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, failed))
end
