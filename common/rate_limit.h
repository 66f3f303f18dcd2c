/* Rate limits shared by every replica: GCRA (the generic cell rate algorithm) kept in Redis,
 * one atomic script per check on Redis's clock; and the IETF RateLimit-* / Retry-After headers. */
#ifndef METRO_RATE_LIMIT_H
#define METRO_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"

/* `limit` requests per `period_ms`, spread evenly: one every period_ms / limit (the emission
 * interval T); up to `burst` of them at once after a quiet spell (tolerance T * burst), so
 * burst == limit allows a full period's quota at once but never more than that, wherever the
 * requests fall (no window boundary to straddle). burst <= 0 means burst = limit. `name` keys
 * the rule in Redis: 1-64 characters of [A-Za-z0-9._-]. */
typedef struct rate_limit_rule {
  const char *name;
  int64_t limit;
  int64_t period_ms;
  int64_t burst;
} rate_limit_rule;

typedef struct rate_limit_result {
  bool allowed;
  bool failed_open;       /* Redis was down or answered an error (or the rule is invalid): allowed
                           * without counting; nothing else below is meaningful */
  int64_t limit;          /* the rule's limit */
  int64_t remaining;      /* requests that would pass right now, after this one */
  int64_t reset_ms;       /* until the full burst is available again */
  int64_t retry_after_ms; /* refused: until this request would pass; 0 when allowed */
} rate_limit_result;

/* Counts `cost` (>= 1; less is taken as 1) requests against `key` under `rule`, on Redis key
 * "metro:rl:<rule>:<key>" (the key hashed with SHA-256 when longer than 128 bytes). One EVALSHA
 * per call (the script loaded once per connection, EVAL when Redis has forgotten it), on this
 * thread's connection (common/redis.h). A cost above the burst is always refused. When Redis
 * is unreachable or errs the request is allowed with failed_open set, and a warning is logged
 * at most once every 10 s. Strings come from the caller; nothing is kept. */
void rate_limit_check(arena *a, const rate_limit_rule *rule, const char *key, int64_t cost, rate_limit_result *out);

/* ---- HTTP presentation (rate_limit_headers.c) ---- */

#define RATE_LIMIT_MAX_HEADERS 4

typedef struct rate_limit_header {
  const char *name;
  const char *value;
} rate_limit_header;

typedef struct rate_limit_headers {
  rate_limit_header items[RATE_LIMIT_MAX_HEADERS];
  int n;
} rate_limit_headers;

/* The draft-ietf-httpapi-ratelimit-headers fields for a result, values in the arena:
 * RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds, rounded up), and when
 * refused Retry-After (seconds, rounded up, at least 1). None after a fail-open: the state is
 * unknown, and guessing it would mislead clients. */
void rate_limit_headers_format(arena *a, const rate_limit_result *r, rate_limit_headers *out);

#endif
