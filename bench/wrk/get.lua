-- GET /v1/tasks/{id} over the ids in the file BENCH_IDS names, at random.
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
  ids[#ids + 1] = line
end
math.randomseed(os.time())

request = function()
  return wrk.format("GET", "/v1/tasks/" .. ids[math.random(#ids)])
end
