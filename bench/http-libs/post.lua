-- post.lua: wrk script for run.sh; POSTs a 1 KiB JSON body to /echo on every request.
-- The body is built once so the client spends its time sending, not formatting.
local pad = string.rep("x", 1024 - #'{"a":""}')
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = '{"a":"' .. pad .. '"}'
wrk.headers["Content-Type"] = "application/json"
