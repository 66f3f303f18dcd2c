# Sourced by bench/compare.sh and bench/soak.sh: login_stack_start STATE BUILD starts one stack
# whose seeded admin (bench-admin@metro.local, a random password) is the account the benches' POST
# logs in to with a wrong password, with the limits on that POST lifted: auth's per-address login
# limit (0 = off) and the gateway's POST rows (METRO_RATE_LIMITS, see transcoder/edge_limits.c).
# Exports LOGIN_EMAIL (kept when already set) and sources STATE/stack.env; on failure prints the
# stack's errors and exits.
login_stack_start() {
  local state=$1 build=$2
  export METRO_ADMIN_EMAIL=bench-admin@metro.local
  METRO_ADMIN_PASSWORD=Bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  export METRO_ADMIN_PASSWORD
  export LOGIN_EMAIL=${LOGIN_EMAIL:-$METRO_ADMIN_EMAIL}
  if ! METRO_STACK_FREE_PORTS=1 METRO_LOG_LEVEL=warn METRO_AUTH_RATE_LIMIT_PER_MINUTE=0 \
    METRO_RATE_LIMITS=auth-ip=off,writes-ip=off,writes-user=off \
    bash "$root/scripts/stack.sh" start "$state" "$build" 2>"$state/stack.err"; then
    cat "$state/stack.err" >&2
    exit 1
  fi
  . "$state/stack.env"
}
