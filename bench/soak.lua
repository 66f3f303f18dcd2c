-- wrk script of bench/soak.sh: a constant request rate (SOAK_RATE requests/s over SOAK_THREADS
-- threads) cycling over a mix of routes, with a count of the response statuses printed at the end.
-- wrk 4.1.0 has no -R: delay() paces each thread on a schedule of its own, one slot every
-- SOAK_THREADS * 1000 / SOAK_RATE ms handed to whichever connection asks next (so the time a
-- response takes does not slow the rate down); a slot missed while every connection was busy is
-- dropped, not made up in a burst. Without LuaJIT's ffi (no clock) each connection waits a fixed
-- connections * 1000 / rate ms after each response instead, which falls short by the latency.
local rate = tonumber(os.getenv("SOAK_RATE")) or 2000
local threads = tonumber(os.getenv("SOAK_THREADS")) or 1
local connections = tonumber(os.getenv("SOAK_CONNECTIONS")) or 20
local email = os.getenv("LOGIN_EMAIL") or "bench-admin@metro.local"

-- The mix, one request of each row in turn.
local routes = {
  { "GET", "/v1/auth/jwks" },
  { "GET", "/v1/stations" },
  { "GET", "/v1/journeys?originStationId=ben-thanh&destinationStationId=ben-xe-suoi-tien" },
  { "GET", "/v1/lines" },
  { "POST", "/v1/auth/login", '{"login":"' .. email .. '","password":"not-the-password-1"}' },
}

local has_ffi, ffi = pcall(require, "ffi")
local now_ms
if has_ffi then
  ffi.cdef([[
    typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
    int clock_gettime(int clock, soak_timespec *ts);
  ]])
  local ts = ffi.new("soak_timespec")
  local CLOCK_MONOTONIC = 1
  now_ms = function()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
end

-- Main state: keeps each thread to read its counters in done().
local all_threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("offset", thread_count - 1)
  all_threads[thread_count] = thread
end

-- Thread states from here on.
local requests = {}
local next_route = 1
local next_slot = nil
local interval_ms = threads * 1000 / rate
statuses = {}

function init(args)
  -- Threads start at different rows so that they do not send the same route at the same time.
  next_route = ((offset or 0) % #routes) + 1
  local json = { ["Content-Type"] = "application/json" }
  for i, r in ipairs(routes) do
    requests[i] = wrk.format(r[1], r[2], r[3] and json or {}, r[3])
  end
end

function request()
  local req = requests[next_route]
  next_route = next_route % #routes + 1
  return req
end

function delay()
  if not now_ms then return connections * 1000 / rate end
  local now = now_ms()
  if not next_slot or next_slot < now then next_slot = now end
  local wait = next_slot - now
  next_slot = next_slot + interval_ms
  return math.floor(wait + 0.5)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, reqs)
  local total = {}
  for _, thread in ipairs(all_threads) do
    local counts = thread:get("statuses") or {}
    for status, n in pairs(counts) do total[status] = (total[status] or 0) + n end
  end
  local keys = {}
  for status in pairs(total) do keys[#keys + 1] = status end
  table.sort(keys)
  local e = summary.errors
  io.write(string.format("soak: requests %d duration_s %.3f errors connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.timeout))
  io.write(string.format("soak: latency_ms p50 %.3f p99 %.3f max %.3f\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("soak: pacing %s\n", now_ms and "schedule (ffi clock)" or "fixed per-connection wait"))
  for _, status in ipairs(keys) do io.write(string.format("soak: status %d %d\n", status, total[status])) end
end
