-- wrk script of bench/compare.sh: POST /v1/auth/login for an existing account (LOGIN_EMAIL from
-- the environment) with a wrong password, the same body on every request (built once).
local email = os.getenv("LOGIN_EMAIL") or "bench-admin@metro.local"
wrk.method = "POST"
wrk.body = '{"login":"' .. email .. '","password":"not-the-password-1"}'
wrk.headers["Content-Type"] = "application/json"
