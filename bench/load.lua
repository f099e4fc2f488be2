-- wrk script of bench/load.py: POST pre-generated bodies in rotation, count answers by status.
--   wrk ... -s bench/load.lua URL -- MANIFEST BODIES TOKEN RUN_ID
-- MANIFEST has one line per body: path, content type, logplex message count (0: not logplex),
-- offset and length in BODIES, tab-separated. Each thread starts at its own place in the
-- rotation; a logplex request gets a Logplex-Frame-Id of its own (a repeated one stores nothing).
-- done() prints `LOADBENCH name value` lines for bench/wrk.py to read.

local threads = {}

function setup(thread)
   thread:set("number", #threads)
   table.insert(threads, thread)
end

local requests, count, index, sent, prefix

function init(args)
   local manifest, blob, token, run = args[1], args[2], args[3], args[4]
   local file = assert(io.open(blob, "rb"))
   local data = file:read("*a")
   file:close()
   requests = {}
   for line in io.lines(manifest) do
      local path, kind, messages, offset, length =
         line:match("^([^\t]+)\t([^\t]+)\t(%d+)\t(%d+)\t(%d+)$")
      local headers = {["Content-Type"] = kind, ["Authorization"] = "Bearer " .. token}
      local body = data:sub(tonumber(offset) + 1, tonumber(offset) + tonumber(length))
      local entry = {path = path, headers = headers, body = body}
      if tonumber(messages) > 0 then
         headers["Logplex-Msg-Count"] = messages
      else
         entry.raw = wrk.format("POST", path, headers, body)
      end
      table.insert(requests, entry)
   end
   count = #requests
   index = math.floor(number * count * 0.618) % count  -- apart, whatever the thread count
   sent = 0
   prefix = run .. "-" .. number .. "-"
   statuses = {}
end

function request()
   index = index % count + 1
   sent = sent + 1
   local entry = requests[index]
   if entry.raw then
      return entry.raw
   end
   entry.headers["Logplex-Frame-Id"] = prefix .. sent
   return wrk.format("POST", entry.path, entry.headers, entry.body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local merged = {}
   for _, thread in ipairs(threads) do
      for status, n in pairs(thread:get("statuses")) do
         merged[status] = (merged[status] or 0) + n
      end
   end
   local function put(name, value)
      io.write(string.format("LOADBENCH %s %d\n", name, value))
   end
   put("requests", summary.requests)
   put("duration_us", summary.duration)
   put("bytes_read", summary.bytes)
   for _, name in ipairs({"connect", "read", "write", "status", "timeout"}) do
      put("error_" .. name, summary.errors[name])
   end
   put("latency_p50_us", latency:percentile(50))
   put("latency_p90_us", latency:percentile(90))
   put("latency_p99_us", latency:percentile(99))
   put("latency_max_us", latency.max)
   for status, n in pairs(merged) do
      put("status_" .. status, n)
   end
end
