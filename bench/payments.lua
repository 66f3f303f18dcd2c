-- wrk script of bench/payments.sh: a fixed amount of work split between wrk's threads, after which
-- wrk ends by itself. Arguments (after `--`), key=value:
--   mode=create   buy pending Sepay tickets: POST /v1/tickets as riders taken in turn from
--                 in=FILE (one access token a line), body=JSON; each thread writes
--                 "ticketId totalPrice" lines to out=PREFIX<thread>.txt. A refused purchase is
--                 tried again (at most `count` refusals a thread, then it gives up).
--   mode=pay      Sepay webhooks: POST /v1/webhooks/sepay, one for each ticket of lines
--                 [first, first + count) of in=FILE ("ticketId amount" lines), transfer id
--                 idbase + (line - first), with key=, account=, bank=, date= (transactionDate).
--                 Each ticket gets exactly one callback; a failed one is counted, not retried.
--   count=N       items in all; thread i takes items [floor(i*N/T), floor((i+1)*N/T)).
--   threads=T     wrk's -t (each thread needs it to know when the run is over).
--   rate=R        0: as fast as the connections go; else R requests/s in all (each thread
--                 holds R/T a second against CLOCK_MONOTONIC; a send that is due goes at once).
--   done=FILE     where threads sign off (see below).
--
-- Ending the run: wrk has no request limit. A connection asks delay() before each request;
-- delay() hands out the thread's items one by one and, once they are all handed out, answers
-- an hour, so that connection sends nothing more. When the thread has all its answers it
-- appends a line to done=FILE and stops its event loop (wrk.thread:stop()); the thread that
-- writes the T-th line sends SIGINT to wrk, whose main thread then stops sleeping out -d
-- early and prints the summary as usual (its duration is the real one). -d is only a bound.
-- Only requests of the work are sent, so wrk's latency histogram holds nothing else; set
-- --timeout longer than the run, since wrk counts idle connections as timed out.
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

local cfg = {}
local items = {}                 -- pay: { {ticketId, amount}, ... } of this thread; create: tokens
local lo, hi, quota = 0, 0, 0    -- this thread's items [lo, hi) in the global numbering
local reserved, claims, next_item, answered = 0, 0, 0, 0 -- claims: slots handed out, retries included
local interval, t_start = 0, nil
local out, finished, giving_up = nil, false, false
-- Read by done() through thread:get (numbers and strings only).
ok, failed, given_up, first_ms, last_ms, sample = 0, 0, 0, 0, 0, ""

init = function(args)
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then cfg[k] = v end
  end
  local n, t = tonumber(cfg.count), tonumber(cfg.threads)
  lo, hi = math.floor(id * n / t), math.floor((id + 1) * n / t)
  quota = hi - lo
  local rate = tonumber(cfg.rate or "0")
  if rate > 0 then interval = t * 1000 / rate end
  if cfg.mode == "create" then
    for line in io.lines(cfg["in"]) do table.insert(items, line) end
    out = io.open(cfg.out .. id .. ".txt", "w")
  else
    local first, i = tonumber(cfg.first or "0"), 0
    for line in io.lines(cfg["in"]) do
      if i >= first + lo and i < first + hi then
        local ticket, amount = line:match("^(%S+)%s+(%d+)")
        table.insert(items, { ticket, tonumber(amount) })
      end
      i = i + 1
    end
  end
end

local function finish()
  if finished then return end
  finished = true
  if out then out:close() end
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
  if reserved >= quota or giving_up then return 3600000 end
  local now = now_ms()
  if not t_start then t_start = now + (interval > 0 and id * interval / tonumber(cfg.threads) or 0) end
  local due = t_start + reserved * interval
  reserved = reserved + 1
  claims = claims + 1
  return due > now and math.floor(due - now) or 0
end

local function sepay_body(i, ticket, amount) -- i: the ticket's line in the file
  local transfer = tonumber(cfg.idbase) + i - tonumber(cfg.first or "0") -- idbase + position in this run
  return string.format('{"id":%d,"gateway":"%s","transactionDate":"%s","accountNumber":"%s","subAccount":null,' ..
    '"code":null,"content":"Payment for ticket %s","transferType":"in","transferAmount":%d,"accumulated":%d,' ..
    '"referenceCode":"FT%013d","description":"BankAPINotify Payment for ticket %s"}',
    transfer, cfg.bank, cfg.date, cfg.account, ticket, amount, amount * (i + 1), transfer, ticket)
end

request = function()
  -- wrk's start-up check calls request() once in thread 0's state before any delay(): no item
  -- is reserved yet, and what it answers is never sent.
  if next_item >= claims then return wrk.format("GET", "/healthz") end
  if first_ms == 0 then first_ms = now_ms() end
  local k = next_item
  next_item = next_item + 1
  if cfg.mode == "create" then
    local token = items[(id * 7919 + k) % #items + 1]
    return wrk.format("POST", "/v1/tickets", { ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token }, cfg.body)
  end
  local item = items[k + 1]
  return wrk.format("POST", "/v1/webhooks/sepay", { ["Content-Type"] = "application/json",
    ["Authorization"] = "Apikey " .. cfg.key }, sepay_body(tonumber(cfg.first or "0") + lo + k, item[1], item[2]))
end

response = function(status, headers, body)
  last_ms = now_ms()
  local good
  if cfg.mode == "create" then
    local ticket = body:match('"ticketId":"([^"]+)"')
    local price = body:match('"totalPrice":(%d+)')
    good = status >= 200 and status < 300 and ticket ~= nil and price ~= nil
    if good then out:write(ticket, " ", price, "\n") end
  else
    good = status == 200 and body:find('"success":true', 1, true) ~= nil
  end
  if good then
    ok = ok + 1
  else
    failed = failed + 1
    if sample == "" then sample = status .. " " .. body:gsub("%s+", " "):sub(1, 300) end
  end
  answered = answered + 1
  if cfg.mode == "create" then
    if not good then
      reserved = reserved - 1 -- the slot is free again: this connection asks delay() next and takes it
      if failed > quota then giving_up = true end
    end
    if ok == quota or (giving_up and ok == reserved) then
      given_up = quota - ok
      finish()
    end
  elseif answered == quota then
    finish()
  end
end

done = function(summary, latency, requests)
  local o, f, g, t0, t1, s = 0, 0, 0, math.huge, 0, ""
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    f = f + t:get("failed")
    g = g + t:get("given_up")
    local a, b = t:get("first_ms"), t:get("last_ms")
    if a > 0 and a < t0 then t0 = a end
    if b > t1 then t1 = b end
    if s == "" then s = t:get("sample") end
  end
  local seconds = t1 > t0 and (t1 - t0) / 1000 or 0
  io.write(string.format("requests %d\nok %d\nfailed %d\ngiven_up %d\nseconds %.3f\nper_second %.1f\n",
    summary.requests, o, f, g, seconds, seconds > 0 and o / seconds or 0))
  io.write(string.format("p50 %.2f\np90 %.2f\np99 %.2f\nmax %.2f\n", latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("errors %d\n", summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
  if s ~= "" then io.write("sample " .. s .. "\n") end
end
