/* Authentication at the edge: access tokens verified locally against the auth
 * service's JWKS (fetched over gRPC, refreshed in the background, looked up by kid). */
#ifndef METRO_EDGE_AUTH_H
#define METRO_EDGE_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/rpc_server.h"

typedef struct edge_auth_config {
  const char *auth_target;     /* "127.0.0.1:50051" */
  const char *issuer;          /* expected iss */
  const char *audience;        /* expected aud */
  const char *identity_secret; /* signs the identity metadata services trust */
  int refresh_s;               /* JWKS refresh period */
} edge_auth_config;

/* Starts the key-refresh thread; the first fetch happens in it (retried every second
 * until it succeeds). */
void edge_auth_start(const edge_auth_config *cfg);
void edge_auth_stop(void);
/* True once a key set has been loaded. */
bool edge_auth_ready(void);

typedef enum { EDGE_AUTH_NONE, EDGE_AUTH_OK, EDGE_AUTH_INVALID } edge_auth_result;

/* Verifies "Bearer <jwt>" (NULL = no header). On EDGE_AUTH_OK fills who (arena
 * strings) and the signed identity metadata to forward; on INVALID, *why says what. */
edge_auth_result edge_auth_check(arena *a, const char *authorization, rpc_identity *who, const char **identity,
                                 const char **identity_sig, const char **why);

#endif
