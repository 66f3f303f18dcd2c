/* The caller identity the gateway vouches for, as gRPC metadata services can trust:
 * x-metro-identity = "<user_id>;<role,role>;<expiry unix s>" and x-metro-identity-sig =
 * base64url(HMAC-SHA256(secret, identity)). Only holders of the secret can mint it. */
#ifndef METRO_IDENTITY_H
#define METRO_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/rpc_server.h"

#define IDENTITY_HEADER "x-metro-identity"
#define IDENTITY_SIG_HEADER "x-metro-identity-sig"

/* Builds the identity value and its signature into the arena. False (both set to NULL) when
 * the input cannot be encoded: no secret, an empty user_id or one with ';' or ',', more than
 * RPC_MAX_ROLES roles, an empty role or one with ';' or ',', or a value over 1 KiB. */
bool identity_sign(arena *a, const char *secret, const char *user_id, const char *const *roles,
                   int n_roles, int64_t expires_unix, const char **value, const char **sig);

/* Verifies sig over value in constant time and that it has not expired at now_unix;
 * fills out (pointing into arena copies). False when anything is off. */
bool identity_verify(arena *a, const char *secret, const char *value, const char *sig,
                     int64_t now_unix, rpc_identity *out);

#endif
