-- Appended to each script: one machine-readable line for calcbench. Latency
-- in microseconds; errors are socket errors, status_errors replies >= 400.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'CALCBENCH {"requests":%d,"duration_us":%d,"errors":%d,"status_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
