-- GET with `Authorization: Bearer`: each request takes a random
-- `token<TAB>path` line of $LINES_FILE. Statuses are counted per thread
-- and summed in done(), so a run shows it got the answers it meant to.
counts = {}
local threads, lines = {}, {}

function setup(thread) threads[#threads + 1] = thread end

function init(args)
  for l in io.lines(os.getenv("LINES_FILE")) do
    local token, path = l:match("^([^\t]+)\t(.+)$")
    if token then lines[#lines + 1] = { token, path } end
  end
  math.randomseed(os.time())
end

function request()
  local e = lines[math.random(#lines)]
  return wrk.format("GET", e[2], { ["Authorization"] = "Bearer " .. e[1] })
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
