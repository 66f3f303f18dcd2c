-- wrk script of bench/notifications.sh: buys free tickets (POST /v1/tickets with a 100 %
-- promotion, so each is active at once and its ticket.activated sends one email), a fixed
-- number split between wrk's threads, after which wrk ends by itself. Arguments (after `--`),
-- key=value:
--   in=FILE       access tokens, one a line: the riders, taken in turn.
--   body=JSON     the purchase.
--   count=N       purchases in all; thread i makes [floor(i*N/T), floor((i+1)*N/T)).
--   threads=T     wrk's -t (each thread needs it to know when the run is over).
--   rate=R        0: as fast as the connections go; else R purchases/s in all (each thread holds
--                 R/T a second against CLOCK_MONOTONIC; a purchase that is due goes at once).
--   out=PREFIX    each thread writes the ids of its active tickets to PREFIX<thread>.txt.
--   done=FILE     where threads sign off (see below).
-- A purchase answered 200 with "status":"active" and a ticketId is good; anything else is
-- counted as failed (with the first one as a sample) and not tried again: the script expects as
-- many emails as there are ticket.activated events in the ticket service's outbox.
--
-- Ending the run (as bench/payments.lua): a connection asks delay() before each request; once
-- the thread's purchases are all handed out delay() answers an hour, so the connection sends
-- nothing more. A thread with all its answers appends a line to done=FILE and stops its event
-- loop; the thread that writes the T-th line sends SIGINT to wrk, whose main thread then prints
-- the summary at once (its duration is the real one). -d and --timeout are only bounds.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } metro_timespec;
int clock_gettime(int clock, metro_timespec *ts);
int kill(int pid, int sig);
int getpid(void);
]]
local ts = ffi.new("metro_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: the same clock in every thread
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads, n_setup = {}, 0
setup = function(thread)
  thread:set("id", n_setup)
  table.insert(threads, thread)
  n_setup = n_setup + 1
end

local cfg, tokens = {}, {}
local quota, reserved, sent, answered = 0, 0, 0, 0
local interval, t_start = 0, nil
local out, finished = nil, false
-- Read by done() through thread:get (numbers and strings only).
ok, failed, first_ms, last_ms, sample = 0, 0, 0, 0, ""

init = function(args)
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then cfg[k] = v end
  end
  local n, t = tonumber(cfg.count), tonumber(cfg.threads)
  quota = math.floor((id + 1) * n / t) - math.floor(id * n / t)
  local rate = tonumber(cfg.rate or "0")
  if rate > 0 then interval = t * 1000 / rate end
  for line in io.lines(cfg["in"]) do table.insert(tokens, line) end
  out = io.open(cfg.out .. id .. ".txt", "w")
end

local function finish()
  if finished then return end
  finished = true
  out:close()
  local f = io.open(cfg.done, "a")
  f:write(id, "\n")
  f:close()
  local n = 0
  for _ in io.lines(cfg.done) do n = n + 1 end
  wrk.thread:stop()
  if n >= tonumber(cfg.threads) then ffi.C.kill(ffi.C.getpid(), 2) end -- SIGINT: wrk's main ends its sleep
end

delay = function()
  if quota == 0 then finish() return 3600000 end
  if reserved >= quota then return 3600000 end
  local now = now_ms()
  if not t_start then t_start = now + (interval > 0 and id * interval / tonumber(cfg.threads) or 0) end
  local due = t_start + reserved * interval
  reserved = reserved + 1
  return due > now and math.floor(due - now) or 0
end

request = function()
  -- wrk's start-up check calls request() once in thread 0's state before any delay(): nothing
  -- is reserved yet, and what it answers is never sent.
  if sent >= reserved then return wrk.format("GET", "/healthz") end
  if first_ms == 0 then first_ms = now_ms() end
  local token = tokens[(id * 7919 + sent) % #tokens + 1]
  sent = sent + 1
  return wrk.format("POST", "/v1/tickets", { ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token }, cfg.body)
end

response = function(status, headers, body)
  last_ms = now_ms()
  local ticket = body:match('"ticketId":"([^"]+)"')
  if status == 200 and ticket and body:find('"status":"active"', 1, true) then
    ok = ok + 1
    out:write(ticket, "\n")
  else
    failed = failed + 1
    if sample == "" then sample = status .. " " .. body:gsub("%s+", " "):sub(1, 300) end
  end
  answered = answered + 1
  if answered == quota then finish() end
end

done = function(summary, latency, requests)
  local o, f, t0, t1, s = 0, 0, math.huge, 0, ""
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    f = f + t:get("failed")
    local a, b = t:get("first_ms"), t:get("last_ms")
    if a > 0 and a < t0 then t0 = a end
    if b > t1 then t1 = b end
    if s == "" then s = t:get("sample") end
  end
  local seconds = t1 > t0 and (t1 - t0) / 1000 or 0
  io.write(string.format("requests %d\nok %d\nfailed %d\nseconds %.3f\nper_second %.1f\n",
    summary.requests, o, f, seconds, seconds > 0 and o / seconds or 0))
  io.write(string.format("p50 %.2f\np99 %.2f\nmax %.2f\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("errors %d\n", summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
  if s ~= "" then io.write("sample " .. s .. "\n") end
end
