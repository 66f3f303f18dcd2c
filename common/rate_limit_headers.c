/* A rate-limit result as HTTP headers (draft-ietf-httpapi-ratelimit-headers, RFC 9110
 * Retry-After): whole seconds, rounded up so a client that waits that long is never early. */
#include "common/rate_limit.h"

static int64_t seconds_up(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

static void add(arena *a, rate_limit_headers *out, const char *name, int64_t value) {
  out->items[out->n].name = name;
  out->items[out->n].value = arena_printf(a, "%lld", (long long)value);
  out->n++;
}

void rate_limit_headers_format(arena *a, const rate_limit_result *r, rate_limit_headers *out) {
  out->n = 0;
  if (r->failed_open) return;
  add(a, out, "RateLimit-Limit", r->limit);
  add(a, out, "RateLimit-Remaining", r->remaining > 0 ? r->remaining : 0);
  add(a, out, "RateLimit-Reset", seconds_up(r->reset_ms));
  if (!r->allowed) {
    int64_t s = seconds_up(r->retry_after_ms);
    add(a, out, "Retry-After", s < 1 ? 1 : s);
  }
}
