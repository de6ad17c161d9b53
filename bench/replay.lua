-- wrk script: replay pre-generated requests, a fixed number per wrk thread, then stop.
--
--   wrk -t T -c C -d <hard timeout> -s bench/replay.lua URL -- FILE PER_THREAD SLICE OUTDIR
--
-- FILE has one request per line: METHOD <tab> PATH <tab> BEARER-TOKEN or "-" <tab> BODY or "-".
-- Every request says "Accept-Encoding: gzip", as real clients do.
-- Thread i (0-based) replays lines i*SLICE+1 .. i*SLICE+SLICE; SLICE must exceed PER_THREAD
-- by at least the thread's connections, because when a thread has received PER_THREAD
-- responses its other connections still have a request in flight. Those are abandoned
-- (never counted) and must be requests that would have succeeded anyway.
--
-- When a thread has PER_THREAD responses it writes OUTDIR/thread-<i> with
--   count <tab> non-2xx <tab> first-send <tab> last-response <tab> status=n,...  (CLOCK_MONOTONIC s)
-- and stops; the driver (bench/_harness.py) then interrupts wrk, whose main thread would
-- otherwise sleep out the whole -d. wrk's own requests/s is therefore meaningless here; the
-- driver computes the rate from these times.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local next_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

local requests, sent, received, failed, per_thread, outdir
local statuses, samples = {}, {}
local first_send, finished = nil, false

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "([^\t]*)\t?") do
    fields[#fields + 1] = field
    if #fields == 4 then break end
  end
  return fields
end

function init(args)
  local file, slice = args[1], tonumber(args[3])
  per_thread, outdir = tonumber(args[2]), args[4]
  local first, last = thread_id * slice + 1, (thread_id + 1) * slice
  requests, sent, received, failed = {}, 0, 0, 0
  local n = 0
  for line in io.lines(file) do
    n = n + 1
    if n > last then break end
    if n >= first then
      local f = split(line)
      -- as browsers and mobile HTTP stacks do; the app compresses only cached public
      -- answers (cowin_kit/core/cache.py), so other answers are unchanged
      local headers = {["Accept-Encoding"] = "gzip"}
      if f[3] ~= "-" then headers["Authorization"] = "Bearer " .. f[3] end
      local body = nil
      if f[4] ~= "-" then
        body = f[4]
        headers["Content-Type"] = "application/json"
      end
      requests[#requests + 1] = wrk.format(f[1], f[2], headers, body)
    end
  end
  if #requests < slice then
    error(string.format("thread %d: %d requests in %s, %d needed", thread_id, #requests, file, slice))
  end
end

function request()
  if first_send == nil then first_send = now() end
  sent = sent + 1
  -- Past the slice (cannot happen when SLICE >= PER_THREAD + connections): repeat the last.
  return requests[math.min(sent, #requests)]
end

function response(status, headers, body)
  if finished then return end
  received = received + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status < 200 or status > 299 then
    failed = failed + 1
    if #samples < 3 then samples[#samples + 1] = status .. " " .. string.sub(body or "", 1, 300) end
  end
  if received >= per_thread then
    finished = true
    local parts = {}
    for code, count in pairs(statuses) do parts[#parts + 1] = code .. "=" .. count end
    local out = assert(io.open(outdir .. "/thread-" .. thread_id, "w"))
    out:write(string.format("%d\t%d\t%.6f\t%.6f\t%s\n", received, failed, first_send, now(),
                            table.concat(parts, ",")))
    for _, sample in ipairs(samples) do out:write((string.gsub(sample, "\n", " ")) .. "\n") end
    out:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("BENCH timeouts %d\n", e.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("BENCH p%s_ms %.3f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("BENCH mean_ms %.3f\n", latency.mean / 1000))
  io.write(string.format("BENCH max_ms %.3f\n", latency.max / 1000))
end
