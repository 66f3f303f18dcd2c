/* API keys at the edge: "X-API-Key: mk_<key id>_<secret>" checked against the auth service's
 * record (SHA-256 of the key, roles, route prefixes, revocation), cached for a few seconds. */
#ifndef METRO_EDGE_KEYS_H
#define METRO_EDGE_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/rpc_server.h"

typedef struct edge_keys_config {
  const char *auth_target;     /* where LookupApiKey is served */
  const char *identity_secret; /* signs the key's identity and the gateway's own service calls */
  int cache_ms;                /* how long a record (or its absence) is trusted: revocation delay */
} edge_keys_config;

void edge_keys_start(const edge_keys_config *cfg);
void edge_keys_stop(void);

typedef enum { EDGE_KEY_OK, EDGE_KEY_INVALID, EDGE_KEY_OUT_OF_SCOPE, EDGE_KEY_UNAVAILABLE } edge_key_result;

typedef struct edge_key_identity {
  rpc_identity who; /* user id "apikey:<key id>" and the key's roles */
  const char *identity, *identity_sig;
  const char *key_id;
  int64_t per_minute;
} edge_key_identity;

/* Checks a key for a request path; on OK fills out (arena strings). *why says what failed. */
edge_key_result edge_keys_check(arena *a, const char *key, const char *path, edge_key_identity *out,
                                const char **why);

#endif
