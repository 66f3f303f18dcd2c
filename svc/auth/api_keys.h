/* API keys of machine clients inside the auth service: the validated new-key record, the
 * api_keys table, and the four handlers handlers.c lists in the service's method table. */
#ifndef METRO_AUTH_API_KEYS_H
#define METRO_AUTH_API_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/api_key.h"
#include "common/rpc_server.h"
#include "metro/auth/v1/auth.pb-c.h"

#define AUTH_API_KEY_MAX_ROLES RPC_MAX_ROLES
#define AUTH_API_KEY_MAX_PREFIXES 32
#define AUTH_API_KEY_MAX_PREFIX_LEN 200
#define AUTH_API_KEY_MAX_NAME 100
#define AUTH_API_KEY_DEFAULT_RATE 600
#define AUTH_API_KEY_MAX_RATE 100000

/* A key as stored. Strings and arrays belong to the call's arena. */
typedef struct auth_api_key {
  const char *key_id, *display_name, *created_by, *secret_prefix;
  const char *const *roles;
  int n_roles;
  const char *const *route_prefixes;
  int n_route_prefixes;
  int rate_limit_per_minute;
  int64_t create_us, expire_us, revoke_us; /* 0 = none */
  const char *secret_sha256_hex;           /* 64 lowercase hex digits */
} auth_api_key;

/* ---- api_keys_rules.c: what a new key may be (pure) ---- */
/* A role a key may act with: one an account may hold other than passenger, admin, service. */
bool auth_api_key_role_allowed(const char *role);
/* Validates the request's ApiKey (fields named "apiKey.<field>") against now_us and fills
 * out's display_name, roles, route_prefixes, rate_limit_per_minute (600 when unset) and
 * expire_us; the output-only fields must be unset (FIELD_READ_ONLY). */
rpc_status auth_api_key_validate_new(rpc_ctx *ctx, const Metro__Auth__V1__ApiKey *in, int64_t now_us,
                                     auth_api_key *out);

/* ---- api_keys_store.c: the api_keys table ---- */
/* Inserts k (key_id, secret_prefix, created_by and the validated fields) with the hash of
 * its secret; *expired = true (nothing inserted) when k->expire_us is not after the
 * database's now. ALREADY_EXISTS when the key id is taken. Fills k->create_us. */
rpc_status auth_api_key_insert(rpc_ctx *ctx, auth_api_key *k, const char *secret_sha256_hex, bool *expired);
/* *found = false (and OK) when there is no such key. */
rpc_status auth_api_key_get(rpc_ctx *ctx, const char *key_id, auth_api_key *out, bool *found);
/* Sets revoke_time when unset. *changed says whether this call revoked it; *found = false
 * when there is no such key. */
rpc_status auth_api_key_revoke(rpc_ctx *ctx, const char *key_id, auth_api_key *out, bool *found, bool *changed);
/* Newest first after the cursor (after_us/after_id NULL on the first page), at most limit rows. */
rpc_status auth_api_key_list(rpc_ctx *ctx, bool show_revoked, const char *after_us, const char *after_id,
                             int limit, auth_api_key **out, int *n);

/* ---- api_keys.c: the handlers ---- */
rpc_status auth_create_api_key(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status auth_list_api_keys(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status auth_revoke_api_key(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status auth_lookup_api_key(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

#endif
