-- wrk script: POSTs WORKDIR/body.json signed with WORKDIR/signature as a GitHub push, each request
-- with its own X-GitHub-Delivery (outside the HMAC), so none is a duplicate. Arguments after `--`:
-- body file, signature file, a prefix unique to the run. done() prints one WRK line.
local counter = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  -- Unique per run and thread: no request is ever a duplicate of another.
  prefix = args[3] .. "-" .. tid
  local file = io.open(args[1], "rb"); body = file:read("*a"); file:close()
  file = io.open(args[2], "r"); signature = file:read("*a"); file:close()
end
function request()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json", ["X-GitHub-Event"] = "push", ["X-GitHub-Hook-ID"] = "1",
    ["X-Hub-Signature-256"] = signature, ["X-GitHub-Delivery"] = prefix .. "-" .. counter,
  }, body)
end
function done(summary, latency, requests)
  local ok = summary.requests - summary.errors.status - summary.errors.connect - summary.errors.read - summary.errors.write - summary.errors.timeout
  io.write(string.format("WRK ok_rps=%.1f requests=%d non2xx=%d p50_ms=%.2f p99_ms=%.2f\n",
    ok / (summary.duration / 1e6), summary.requests, summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
