-- bench/wrk.lua: wrk script of bench/run.sh.
--
--   wrk ... -s bench/wrk.lua URL -- 'fiberlogto_session=ID'   (or -- - for none)
--   wrk ... -s bench/wrk.lua URL -- - TOKEN                  (Authorization: Bearer TOKEN)
--
-- Sends the Cookie header given after "--" (and, when a second argument is
-- given, an access token as Authorization: Bearer) with every request and prints
-- one machine-readable line when the run is done (latencies in µs; errors
-- are socket errors and timeouts, non2xx wrk's status errors, i.e. >= 400).

function init(args)
  local cookie = args[1]
  if cookie ~= nil and cookie ~= "" and cookie ~= "-" then
    wrk.headers["Cookie"] = cookie
  end
  local token = args[2]
  if token ~= nil and token ~= "" and token ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
