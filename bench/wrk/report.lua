-- wrk script for bench/run.py: the request from the environment, a JSON summary at the end.
-- errors: connection errors, timeouts and answers with a status >= 400.
local token = os.getenv("BENCH_TOKEN")
if token then
  wrk.headers["Authorization"] = "Token " .. token
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

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
