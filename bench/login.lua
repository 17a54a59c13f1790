-- POST /api/v1/auth/login with a random JSON body line of $LINES_FILE
-- (right passwords only, so no throttle trips). Statuses as in get.lua.
counts = {}
local threads, bodies = {}, {}

function setup(thread) threads[#threads + 1] = thread end

function init(args)
  for l in io.lines(os.getenv("LINES_FILE")) do bodies[#bodies + 1] = l end
  math.randomseed(os.time())
end

function request()
  return wrk.format("POST", "/api/v1/auth/login", { ["Content-Type"] = "application/json" }, bodies[math.random(#bodies)])
end

function response(status) counts[status] = (counts[status] or 0) + 1 end

function done()
  local sum = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do sum[k] = (sum[k] or 0) + v end
  end
  local out = {}
  for k, v in pairs(sum) do out[#out + 1] = k .. "=" .. v end
  table.sort(out)
  print("STATUS " .. table.concat(out, " "))
end
