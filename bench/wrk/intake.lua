-- wrk script of the intake benchmark (bench/intake.py): varied hotline calls with a token header.
--
--   wrk ... -s bench/wrk/intake.lua URL -- MODE DATAFILE NONCE
--
-- MODE   intake: POST /api/v1/calls (the hotline screen's one save: caller, case, contact);
--        floor:  POST /api/bench-floors/calls (the same bodies: schema validation + 4 inserts);
--        ping:   GET  /api/bench-floors/ping (token authentication and a JSON answer).
-- DATAFILE  a Lua file written by bench/intake.py returning the operators (token, unit, regions
--           in their scope, units they may accuse) and the vocabularies of the calls.
-- NONCE     makes the Idempotency-Keys of this run unique.
--
-- Every request picks an operator (and her token) at random, then a call: channel, request type,
-- category, urgency and the words weighted as a federation's hotline hears them (the weights of
-- rightscare bench-data). done() prints one line "BENCH_RESULT {json}" with the request count,
-- the latency percentiles (microseconds), the responses by status class and a few bodies of
-- non-2xx answers: wrk's own error counters do not count HTTP errors.

local mode, data, nonce
local counter = 0
local operators, categories, category_weights

-- per thread; read by done() through thread:get
n2xx, n3xx, n4xx, n5xx, nother = 0, 0, 0, 0, 0
error_samples = ""

local threads = {}

function setup(thread)
   thread:set("thread_id", #threads + 1)
   table.insert(threads, thread)
end

-- A weighted table {{value, weight}, ...} as {values, cumulative, total} for pick().
local function weighted(pairs_)
   local values, cumulative, total = {}, {}, 0
   for _, pair in ipairs(pairs_) do
      total = total + pair[2]
      table.insert(values, pair[1])
      table.insert(cumulative, total)
   end
   return { values = values, cumulative = cumulative, total = total }
end

local function pick(w)
   local r = math.random() * w.total
   for i, c in ipairs(w.cumulative) do
      if r < c then
         return w.values[i]
      end
   end
   return w.values[#w.values]
end

local function one_of(list)
   return list[math.random(#list)]
end

local channels, request_types, urgencies

function init(args)
   mode = args[1] or "intake"
   local path = args[2]
   nonce = args[3] or tostring(os.time())
   data = dofile(path)
   operators = data.operators
   channels = weighted(data.channels)
   request_types = weighted(data.request_types)
   urgencies = weighted(data.urgencies)
   category_weights = weighted(data.top_weights)
   categories = data.categories -- top code -> list of second-level codes
   math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
   for _ = 1, 10 do
      math.random()
   end
end

local function q(text)
   -- The vocabularies hold no quote, backslash or control character (bench/intake.py checks).
   return '"' .. text .. '"'
end

local function name(female)
   local given = female and data.female_given or data.male_given
   local n = one_of(given)
   if math.random() < 0.6 then
      n = n .. one_of(given)
   end
   return one_of(data.surnames) .. n
end

local function phone()
   return "139" .. string.format("%08d", math.random(0, 99999999))
end

local function body(op)
   local top = pick(category_weights)
   local category = one_of(categories[top])
   local channel = pick(channels)
   local request_type = pick(request_types)
   local urgency = pick(urgencies)
   local fields = {
      '"unit_id":' .. op.unit,
      '"channel":' .. q(channel),
      '"request_type":' .. q(request_type),
      '"category":' .. q(category),
      '"urgency":' .. q(urgency),
      '"region_id":' .. one_of(op.regions),
      '"content":' .. q(one_of(data.summaries[top]) .. one_of(data.details)),
      '"caller_phone":' .. q(phone()),
   }
   if math.random() < 0.9 then
      local female = math.random() < 0.78
      table.insert(fields, string.format('"new_caller":{"name":%s,"sex":%s,"approximate_age":%d}',
         q(name(female)), q(female and "female" or "male"), math.random(16, 78)))
   end
   if math.random() < 0.6 then
      table.insert(fields, '"address":' .. q(one_of(data.streets) .. math.random(1, 400) .. "号"))
   end
   if top == "employment" then
      table.insert(fields, '"respondent_organisation":' .. q(one_of(data.companies)))
   elseif top == "domestic-violence" and math.random() < 0.7 then
      table.insert(fields, string.format('"respondent":{"name":%s,"sex":"male"}', q(name(false))))
   end
   if channel == "platform_12345" then
      table.insert(fields, string.format('"external_ticket_number":"12345-%s-%d"', nonce, math.random(1, 999999999)))
   end
   if request_type == "accusation" then
      table.insert(fields, '"accused_unit_id":' .. one_of(op.accusable))
   elseif request_type == "consultation" and math.random() < 0.85 then
      table.insert(fields, '"action":"answer"')
      table.insert(fields, '"reply":' .. q(one_of(data.replies)))
   end
   if urgency == "emergency" and math.random() < 0.5 then
      table.insert(fields, '"handoff":{"service":"110"}')
   end
   return "{" .. table.concat(fields, ",") .. "}"
end

function request()
   local op = operators[math.random(#operators)]
   local headers = { ["Authorization"] = "Bearer " .. op.token, ["Accept"] = "application/json" }
   if mode == "ping" then
      return wrk.format("GET", "/api/bench-floors/ping", headers)
   end
   counter = counter + 1
   headers["Content-Type"] = "application/json"
   local path = "/api/v1/calls"
   if mode == "floor" then
      path = "/api/bench-floors/calls"
   else
      headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", nonce, thread_id or 0, counter)
   end
   return wrk.format("POST", path, headers, body(op))
end

function response(status, headers, body_)
   if status >= 200 and status < 300 then
      n2xx = n2xx + 1
      return
   end
   if status < 400 then
      n3xx = n3xx + 1
   elseif status < 500 then
      n4xx = n4xx + 1
   elseif status < 600 then
      n5xx = n5xx + 1
   else
      nother = nother + 1
   end
   if #error_samples < 1500 then
      error_samples = error_samples .. status .. " " .. string.sub(body_ or "", 1, 300) .. "\n"
   end
end

local function json_string(text)
   return '"' .. string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local totals = { n2xx = 0, n3xx = 0, n4xx = 0, n5xx = 0, nother = 0 }
   local samples = ""
   for _, thread in ipairs(threads) do
      for key, _ in pairs(totals) do
         totals[key] = totals[key] + (thread:get(key) or 0)
      end
      samples = samples .. (thread:get("error_samples") or "")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
      '"status_2xx":%d,"status_3xx":%d,"status_4xx":%d,"status_5xx":%d,"status_other":%d,' ..
      '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"error_samples":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max, latency.mean,
      totals.n2xx, totals.n3xx, totals.n4xx, totals.n5xx, totals.nother,
      e.connect, e.read, e.write, e.timeout, json_string(samples)))
end
