-- wrk script for bench/run.py: the request from the environment, a JSON summary at the end.
-- errors: connection errors, timeouts and answers with a status >= 400.
local token = os.getenv("BENCH_TOKEN")
if token then
  wrk.headers["Authorization"] = "Token " .. token
end
local encoding = os.getenv("BENCH_ACCEPT_ENCODING")
if encoding and encoding ~= "" then
  wrk.headers["Accept-Encoding"] = encoding
end
local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then
  wrk.method = method
end
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- BENCH_WRITE_EVERY=N: every N-th request of a connection is a POST of BENCH_WRITE_BODY to
-- BENCH_WRITE_PATH; the others are the GET above.
local every = tonumber(os.getenv("BENCH_WRITE_EVERY") or "0")
if every > 0 then
  local write_headers = {}
  for name, value in pairs(wrk.headers) do
    write_headers[name] = value
  end
  write_headers["Content-Type"] = "application/json"
  local sent = 0
  request = function()
    sent = sent + 1
    if sent % every == 0 then
      return wrk.format("POST", os.getenv("BENCH_WRITE_PATH"), write_headers,
        os.getenv("BENCH_WRITE_BODY"))
    end
    return wrk.format()
  end
end

-- BENCH_BODIES=FILE: POSTs of the file's lines in turn (one JSON body per line; each thread
-- starts at its own line), e.g. visitor messages to many rooms (the chat turn).
local bodies_file = os.getenv("BENCH_BODIES")
if bodies_file and bodies_file ~= "" then
  local bodies = {}
  for line in io.lines(bodies_file) do
    bodies[#bodies + 1] = line
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local next_body = 0
  init = function(args)
    next_body = math.random(#bodies)
  end
  request = function()
    next_body = next_body % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[next_body])
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
