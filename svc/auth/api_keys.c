/* The API-key handlers of the auth service: admins create (the secret answered once, only its
 * SHA-256 stored), list and revoke keys; the gateway looks one up by id, as a service. Creation
 * and revocation publish api_key.created / api_key.revoked through the outbox, in the same
 * transaction as the change. */
#include <string.h>
#include <time.h>

#include "common/events.h"
#include "common/page_token.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "metro/events/v1/identity_events.pb-c.h"
#include "svc/auth/api_keys.h"

#define DEFAULT_PAGE_SIZE 20
#define MAX_PAGE_SIZE 100
#define ID_ATTEMPTS 3 /* a random 64-bit id is taken again about never; a retry costs nothing */

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static Metro__Auth__V1__ApiKey *key_to_proto(rpc_ctx *ctx, const auth_api_key *k) {
  Metro__Auth__V1__ApiKey *p = RPC_NEW(ctx, Metro__Auth__V1__ApiKey, metro__auth__v1__api_key__init);
  p->name = arena_printf(ctx->arena, "apiKeys/%s", k->key_id);
  p->key_id = (char *)k->key_id;
  p->display_name = (char *)k->display_name;
  p->roles = (char **)k->roles;
  p->n_roles = (size_t)k->n_roles;
  p->route_prefixes = (char **)k->route_prefixes;
  p->n_route_prefixes = (size_t)k->n_route_prefixes;
  p->rate_limit_per_minute = k->rate_limit_per_minute;
  p->created_by = (char *)k->created_by;
  p->create_time = pb_timestamp(ctx, k->create_us);
  p->expire_time = pb_timestamp(ctx, k->expire_us);
  p->revoke_time = pb_timestamp(ctx, k->revoke_us);
  p->secret_prefix = (char *)k->secret_prefix;
  return p;
}

static rpc_status not_found(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "API_KEY_NOT_FOUND", "no such API key");
}

/* Commits when st is OK, rolls back otherwise; returns the outcome. */
static rpc_status finish_tx(rpc_ctx *ctx, rpc_status st) {
  if (rpc_ok(st)) return pg_commit(ctx->arena);
  pg_rollback();
  return st;
}

static rpc_status emit_created(rpc_ctx *ctx, const auth_api_key *k) {
  Metro__Events__V1__ApiKeyCreated *e =
      RPC_NEW(ctx, Metro__Events__V1__ApiKeyCreated, metro__events__v1__api_key_created__init);
  e->key_id = (char *)k->key_id;
  e->display_name = (char *)k->display_name;
  e->roles = (char **)k->roles;
  e->n_roles = (size_t)k->n_roles;
  e->route_prefixes = (char **)k->route_prefixes;
  e->n_route_prefixes = (size_t)k->n_route_prefixes;
  e->rate_limit_per_minute = k->rate_limit_per_minute;
  e->created_by = (char *)k->created_by;
  e->expire_time = pb_timestamp(ctx, k->expire_us);
  return ev_publish(ctx->arena, "api_key.created", k->key_id, &e->base, ctx->traceparent);
}

static rpc_status emit_revoked(rpc_ctx *ctx, const auth_api_key *k) {
  Metro__Events__V1__ApiKeyRevoked *e =
      RPC_NEW(ctx, Metro__Events__V1__ApiKeyRevoked, metro__events__v1__api_key_revoked__init);
  e->key_id = (char *)k->key_id;
  e->revoked_by = (char *)(ctx->caller.user_id ? ctx->caller.user_id : "");
  e->revoke_time = pb_timestamp(ctx, k->revoke_us);
  return ev_publish(ctx->arena, "api_key.revoked", k->key_id, &e->base, ctx->traceparent);
}

/* One attempt: a fresh id and secret, the row and its event in one transaction. *taken when
 * the random id (or hash) collided with an existing key. */
static rpc_status insert_new(rpc_ctx *ctx, auth_api_key *k, char secret[API_KEY_SECRET_LEN + 1], bool *taken) {
  char key_id[API_KEY_ID_LEN + 1], hash[API_KEY_SHA256_HEX_LEN + 1];
  api_key_generate(key_id, secret);
  api_key_sha256_hex(secret, hash);
  k->key_id = arena_strdup(ctx->arena, key_id);
  k->secret_prefix = arena_strndup(ctx->arena, secret, API_KEY_PREFIX_LEN);
  *taken = false;
  bool expired = false;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = auth_api_key_insert(ctx, k, hash, &expired);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS) *taken = true;
  if (rpc_ok(st) && expired)
    st = rpc_invalid(ctx->arena, "apiKey.expireTime", "INVALID_EXPIRE_TIME", "apiKey.expireTime must be in the future");
  if (rpc_ok(st)) st = emit_created(ctx, k);
  return finish_tx(ctx, st);
}

rpc_status auth_create_api_key(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__CreateApiKeyRequest *r = (const void *)msg;
  auth_api_key k;
  rpc_status st = auth_api_key_validate_new(ctx, r->api_key, now_us(), &k);
  if (!rpc_ok(st)) return st;
  k.created_by = ctx->caller.user_id; /* the access rule requires an authenticated admin */
  char secret[API_KEY_SECRET_LEN + 1];
  bool taken = true;
  for (int i = 0; i < ID_ATTEMPTS && taken; i++) st = insert_new(ctx, &k, secret, &taken);
  if (rpc_ok(st)) {
    Metro__Auth__V1__CreateApiKeyResponse *resp =
        RPC_NEW(ctx, Metro__Auth__V1__CreateApiKeyResponse, metro__auth__v1__create_api_key_response__init);
    resp->api_key = key_to_proto(ctx, &k);
    resp->secret = arena_strdup(ctx->arena, secret);
    *out = &resp->base;
  } else if (taken) {
    st = rpc_internal("api keys: random key ids collided on every attempt");
  }
  memset(secret, 0, sizeof secret);
  return st;
}

rpc_status auth_list_api_keys(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__ListApiKeysRequest *r = (const void *)msg;
  page_cursor cur;
  rpc_status st = page_cursor_parse_ids(ctx, "ak", r->page_size, r->page_token, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
                                        api_key_id_valid, &cur);
  if (!rpc_ok(st)) return st;
  auth_api_key *rows;
  int n;
  if (!rpc_ok(st = auth_api_key_list(ctx, r->show_revoked, cur.after_us, cur.after_id, cur.page_size + 1, &rows, &n)))
    return st;
  int shown = n > cur.page_size ? cur.page_size : n;
  Metro__Auth__V1__ListApiKeysResponse *resp =
      RPC_NEW(ctx, Metro__Auth__V1__ListApiKeysResponse, metro__auth__v1__list_api_keys_response__init);
  resp->api_keys = arena_alloc(ctx->arena, sizeof *resp->api_keys * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) resp->api_keys[resp->n_api_keys++] = key_to_proto(ctx, &rows[i]);
  if (n > shown)
    resp->next_page_token = (char *)page_token_make(ctx, "ak", rows[shown - 1].create_us, rows[shown - 1].key_id);
  *out = &resp->base;
  return RPC_OK;
}

/* The key id of a request: required; one that cannot exist is simply not found. */
static rpc_status check_key_id(rpc_ctx *ctx, const char *key_id) {
  if (!key_id || !*key_id) return rpc_invalid(ctx->arena, "keyId", "FIELD_REQUIRED", "keyId is required");
  return api_key_id_valid(key_id) ? RPC_OK : not_found(ctx);
}

rpc_status auth_revoke_api_key(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__RevokeApiKeyRequest *r = (const void *)msg;
  rpc_status st = check_key_id(ctx, r->key_id);
  if (!rpc_ok(st) || !rpc_ok(st = pg_begin(ctx->arena))) return st;
  auth_api_key k;
  bool found = false, changed = false;
  st = auth_api_key_revoke(ctx, r->key_id, &k, &found, &changed);
  if (rpc_ok(st) && !found) st = not_found(ctx);
  if (rpc_ok(st) && changed) st = emit_revoked(ctx, &k); /* once: a second revoke changes nothing */
  st = finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &key_to_proto(ctx, &k)->base;
  return st;
}

/* The access rule lets "service" and, as everywhere, "admin" through; this method is for
 * services alone (the gateway), so an admin's own identity is refused here. */
static bool caller_is_service(const rpc_ctx *ctx) {
  for (int i = 0; i < ctx->caller.n_roles; i++)
    if (strcmp(ctx->caller.roles[i], "service") == 0) return true;
  return false;
}

rpc_status auth_lookup_api_key(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Auth__V1__LookupApiKeyRequest *r = (const void *)msg;
  if (!caller_is_service(ctx))
    return rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "PERMISSION_DENIED",
                     "only services may look up API keys");
  rpc_status st = check_key_id(ctx, r->key_id);
  if (!rpc_ok(st)) return st;
  auth_api_key k;
  bool found;
  if (!rpc_ok(st = auth_api_key_get(ctx, r->key_id, &k, &found))) return st;
  if (!found) return not_found(ctx);
  Metro__Auth__V1__ApiKeyCredential *c =
      RPC_NEW(ctx, Metro__Auth__V1__ApiKeyCredential, metro__auth__v1__api_key_credential__init);
  c->api_key = key_to_proto(ctx, &k);
  c->secret_sha256_hex = (char *)k.secret_sha256_hex;
  *out = &c->base;
  return RPC_OK;
}
