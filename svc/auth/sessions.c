/* Sessions of the auth service: Ed25519 access tokens, refresh-token families with
 * rotation and reuse detection, and single-use tokens for verification and reset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "svc/auth/auth.h"

#define TOKEN_BYTES 32 /* 256-bit opaque tokens */

/* The SHA-256 of an opaque token as a bytea hex literal ("\\x..."), the stored form. */
static const char *token_hash_param(arena *a, const char *token) {
  uint8_t hash[CRYPTO_SHA256_LEN];
  crypto_sha256(token, strlen(token), hash);
  return pg_bytea_literal(a, hash, sizeof hash);
}

static const char *new_opaque_token(arena *a) {
  char buf[64];
  if (!crypto_random_token(TOKEN_BYTES, buf, sizeof buf)) abort();
  return arena_strdup(a, buf);
}

static rpc_status issue_access(rpc_ctx *ctx, const auth_account *acc, const char *family_id,
                               Metro__Auth__V1__Session *out) {
  const auth_state *s = ctx->state;
  jwt_claims c;
  memset(&c, 0, sizeof c);
  snprintf(c.sub, sizeof c.sub, "%s", acc->user_id);
  snprintf(c.fid, sizeof c.fid, "%s", family_id);
  crypto_uuid_v4(c.jti);
  snprintf(c.iss, sizeof c.iss, "%s", s->settings.issuer);
  snprintf(c.aud, sizeof c.aud, "%s", s->settings.audience);
  for (int i = 0; i < acc->n_roles && i < JWT_MAX_ROLES; i++) snprintf(c.roles[i], sizeof c.roles[i], "%s", acc->roles[i]);
  c.n_roles = acc->n_roles < JWT_MAX_ROLES ? acc->n_roles : JWT_MAX_ROLES;
  c.iat = time(NULL);
  c.nbf = c.iat;
  c.exp = c.iat + s->settings.access_ttl_s;
  char *token = jwt_sign(s->signing_key, &c);
  if (!token) return rpc_internal("jwt_sign failed");
  out->access_token = arena_strdup(ctx->arena, token);
  free(token);
  out->expires_in = (int32_t)s->settings.access_ttl_s;
  out->token_type = "Bearer";
  out->user = auth_account_to_proto(ctx, acc);
  return RPC_OK;
}

static rpc_status insert_refresh(rpc_ctx *ctx, const char *user_id, const char *family_id, const char **token) {
  const auth_state *s = ctx->state;
  *token = new_opaque_token(ctx->arena);
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%lld", (long long)s->settings.refresh_ttl_s);
  const char *params[4] = {token_hash_param(ctx->arena, *token), family_id, user_id, ttl};
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO refresh_tokens (token_hash, family_id, user_id, status, expires_at) "
                 "VALUES ($1::bytea, $2::uuid, $3::uuid, 'active', now() + make_interval(secs => $4::int))",
                 4, params);
}

rpc_status auth_session_start(rpc_ctx *ctx, const auth_account *acc, Metro__Auth__V1__Session **out) {
  char family_id[37];
  crypto_uuid_v4(family_id);
  Metro__Auth__V1__Session *session = RPC_NEW(ctx, Metro__Auth__V1__Session, metro__auth__v1__session__init);
  const char *refresh;
  rpc_status st = insert_refresh(ctx, acc->user_id, family_id, &refresh);
  if (!rpc_ok(st)) return st;
  session->refresh_token = (char *)refresh;
  st = issue_access(ctx, acc, family_id, session);
  if (rpc_ok(st)) *out = session;
  return st;
}

static rpc_status invalid_refresh(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_UNAUTHENTICATED, "INVALID_REFRESH_TOKEN",
                   "the refresh token is invalid or expired");
}

static rpc_status revoke_family(rpc_ctx *ctx, const char *family_id) {
  const char *params[1] = {family_id};
  return pg_exec(ctx->arena, NULL, "UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = $1::uuid", 1,
                 params);
}

static bool token_shape_ok(const char *token) {
  size_t n = token ? strlen(token) : 0;
  return n >= 16 && n <= 128;
}

rpc_status auth_session_refresh(rpc_ctx *ctx, const char *refresh_token, Metro__Auth__V1__Session **out) {
  if (!token_shape_ok(refresh_token)) return invalid_refresh(ctx);
  const char *hash = token_hash_param(ctx->arena, refresh_token);
  /* Rotation is one conditional update: of two concurrent refreshes with one token,
   * exactly one wins; the other sees a rotated token, which is reuse. */
  const char *params[1] = {hash};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "UPDATE refresh_tokens SET status = 'rotated' WHERE token_hash = $1::bytea "
                          "AND status = 'active' AND expires_at > now() RETURNING family_id, user_id",
                          1, params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) {
    PGresult *known;
    st = pg_exec(ctx->arena, &known, "SELECT family_id, status FROM refresh_tokens WHERE token_hash = $1::bytea", 1,
                 params);
    if (!rpc_ok(st)) return st;
    if (PQntuples(known) == 1 && strcmp(pg_value(known, 0, 1), "active") != 0) {
      st = revoke_family(ctx, pg_value(known, 0, 0));
      if (!rpc_ok(st)) return st;
      log_warn("refresh token reuse detected; family revoked");
      return rpc_error(ctx->arena, GRPC_STATUS_UNAUTHENTICATED, "REFRESH_TOKEN_REUSED",
                       "this refresh token was already used; the session has been revoked");
    }
    return invalid_refresh(ctx);
  }
  const char *family_id = pg_value(r, 0, 0), *user_id = pg_value(r, 0, 1);
  auth_account acc;
  bool found;
  st = auth_account_by_id(ctx, user_id, &acc, &found);
  if (!rpc_ok(st)) return st;
  if (!found || !acc.is_active) {
    revoke_family(ctx, family_id);
    return invalid_refresh(ctx);
  }
  Metro__Auth__V1__Session *session = RPC_NEW(ctx, Metro__Auth__V1__Session, metro__auth__v1__session__init);
  const char *refresh;
  st = insert_refresh(ctx, acc.user_id, family_id, &refresh);
  if (!rpc_ok(st)) return st;
  session->refresh_token = (char *)refresh;
  st = issue_access(ctx, &acc, family_id, session);
  if (rpc_ok(st)) *out = session;
  return st;
}

rpc_status auth_session_logout(rpc_ctx *ctx, const char *refresh_token) {
  if (!token_shape_ok(refresh_token)) return RPC_OK;
  const char *params[1] = {token_hash_param(ctx->arena, refresh_token)};
  return pg_exec(ctx->arena, NULL,
                 "UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = "
                 "(SELECT family_id FROM refresh_tokens WHERE token_hash = $1::bytea)",
                 1, params);
}

rpc_status auth_sessions_revoke_all(rpc_ctx *ctx, const char *user_id) {
  const char *params[1] = {user_id};
  return pg_exec(ctx->arena, NULL,
                 "UPDATE refresh_tokens SET status = 'revoked' WHERE user_id = $1::uuid AND status <> 'revoked'", 1,
                 params);
}

rpc_status auth_one_time_create(rpc_ctx *ctx, const char *user_id, const char *purpose, int64_t ttl_s,
                                bool voids_older, const char **token) {
  rpc_status st;
  if (voids_older) {
    const char *params[2] = {user_id, purpose};
    st = pg_exec(ctx->arena, NULL,
                 "UPDATE one_time_tokens SET used_at = now() WHERE user_id = $1::uuid AND purpose = $2 "
                 "AND used_at IS NULL",
                 2, params);
    if (!rpc_ok(st)) return st;
  }
  *token = new_opaque_token(ctx->arena);
  char ttl[24];
  snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_s);
  const char *params[4] = {token_hash_param(ctx->arena, *token), user_id, purpose, ttl};
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO one_time_tokens (token_hash, user_id, purpose, expires_at) "
                 "VALUES ($1::bytea, $2::uuid, $3, now() + make_interval(secs => $4::int))",
                 4, params);
}

rpc_status auth_one_time_consume(rpc_ctx *ctx, const char *token, const char *purpose, const char **user_id) {
  *user_id = NULL;
  if (!token_shape_ok(token)) return RPC_OK;
  const char *params[2] = {token_hash_param(ctx->arena, token), purpose};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "UPDATE one_time_tokens SET used_at = now() WHERE token_hash = $1::bytea AND purpose = $2 "
                          "AND used_at IS NULL AND expires_at > now() RETURNING user_id",
                          2, params);
  if (rpc_ok(st) && PQntuples(r) == 1) *user_id = pg_value(r, 0, 0);
  return st;
}
