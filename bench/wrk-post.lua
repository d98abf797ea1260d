-- wrk script for the pinned benchmark: POSTs KR_WRK_BODY (with KR_WRK_AUTH as Authorization when set)
-- and prints one machine-readable line with the counts and latency percentiles (microseconds).
wrk.method = "POST"
wrk.body = os.getenv("KR_WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("KR_WRK_AUTH")
if auth ~= nil and auth ~= "" then wrk.headers["Authorization"] = auth end

done = function(summary, latency, requests)
  io.write(string.format(
    'KRJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean))
end
