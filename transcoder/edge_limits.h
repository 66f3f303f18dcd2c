/* The gateway's rate limits, configured in one table: which requests each limit covers (method
 * and path prefix), whom it counts (client address, user or API key) and its GCRA rate in Redis. */
#ifndef METRO_EDGE_LIMITS_H
#define METRO_EDGE_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/rate_limit.h"

typedef enum { LIMIT_BY_IP, LIMIT_BY_USER, LIMIT_BY_KEY } limit_subject;

typedef struct edge_limit {
  const char *name;        /* "auth-ip": the Redis key space and the setting's name */
  const char *methods;     /* "POST" or "POST,PUT,PATCH,DELETE" or "*" */
  const char *path_prefix; /* "/v1/auth/" */
  limit_subject subject;
  rate_limit_rule rule; /* limit per period, burst */
} edge_limit;

/* METRO_RATE_LIMITS overrides rows of the table: "auth-ip=60/60s/20,writes-user=off"
 * (limit/period[/burst], period in s or ms; "off" disables a row). False with a message. */
bool edge_limits_configure(const char *spec, char *err, size_t errlen);

/* Who is asking: any may be NULL. */
typedef struct edge_subject {
  const char *ip, *user_id, *api_key_id;
  int64_t api_key_per_minute; /* the key's own limit (0: none) */
} edge_subject;

/* Checks every row that covers the request, and the API key's own limit. *out is the refusing
 * result (allowed false) or, when all pass, the one with the fewest requests left (for the
 * RateLimit headers); *limited false when no limit covered the request. */
void edge_limits_check(arena *a, const char *method, const char *path, const edge_subject *who,
                       rate_limit_result *out, bool *limited);

#endif
