/* The api_keys table of the auth service: parameterized SQL to insert a key with the hash of
 * its secret, read one, revoke one, and list them newest first with a keyset cursor. */
#include <stdlib.h>
#include <string.h>

#include "common/pb_time.h"
#include "common/pg.h"
#include "svc/auth/api_keys.h"

/* Arrays travel as newline-joined text: neither roles nor route prefixes can hold a newline
 * (both are validated), and text needs none of text[]'s quoting rules. */
#define KEY_COLUMNS                                                                               \
  "key_id, display_name, array_to_string(roles, E'\\n'), array_to_string(route_prefixes, E'\\n'), " \
  "rate_limit_per_minute, created_by, secret_prefix, " SQL_US("create_time") ", "                 \
  "coalesce(" SQL_US("expire_time") ", 0), coalesce(" SQL_US("revoke_time") ", 0), "              \
  "encode(secret_sha256, 'hex')"

static const char *const *split_lines(arena *a, const char *text, int *n) {
  *n = 0;
  if (!text || !*text) return NULL;
  int count = 1;
  for (const char *p = text; *p; p++) count += *p == '\n';
  const char **out = arena_alloc(a, sizeof *out * (size_t)count);
  for (const char *p = text;;) {
    size_t len = strcspn(p, "\n");
    out[(*n)++] = arena_strndup(a, p, len);
    if (!p[len]) break;
    p += len + 1;
  }
  return out;
}

static const char *join_lines(arena *a, const char *const *items, int n) {
  size_t len = 1;
  for (int i = 0; i < n; i++) len += strlen(items[i]) + 1;
  char *out = arena_alloc(a, len), *w = out;
  for (int i = 0; i < n; i++) {
    if (i) *w++ = '\n';
    size_t l = strlen(items[i]);
    memcpy(w, items[i], l);
    w += l;
  }
  *w = '\0';
  return out;
}

static void row_to_key(arena *a, const PGresult *r, int row, auth_api_key *k) {
  memset(k, 0, sizeof *k);
  k->key_id = pg_value(r, row, 0);
  k->display_name = pg_value(r, row, 1);
  k->roles = split_lines(a, pg_value(r, row, 2), &k->n_roles);
  k->route_prefixes = split_lines(a, pg_value(r, row, 3), &k->n_route_prefixes);
  k->rate_limit_per_minute = atoi(pg_value(r, row, 4));
  k->created_by = pg_value(r, row, 5);
  k->secret_prefix = pg_value(r, row, 6);
  k->create_us = strtoll(pg_value(r, row, 7), NULL, 10);
  k->expire_us = strtoll(pg_value(r, row, 8), NULL, 10);
  k->revoke_us = strtoll(pg_value(r, row, 9), NULL, 10);
  k->secret_sha256_hex = pg_value(r, row, 10);
}

static rpc_status one_key(rpc_ctx *ctx, const char *sql, int n, const char *const *params, auth_api_key *out,
                          bool *found) {
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, sql, n, params);
  if (!rpc_ok(st)) return st;
  *found = PQntuples(r) == 1;
  if (*found) row_to_key(ctx->arena, r, 0, out);
  return RPC_OK;
}

rpc_status auth_api_key_insert(rpc_ctx *ctx, auth_api_key *k, const char *secret_sha256_hex, bool *expired) {
  const char *params[9] = {k->key_id,
                           k->display_name,
                           join_lines(ctx->arena, k->roles, k->n_roles),
                           join_lines(ctx->arena, k->route_prefixes, k->n_route_prefixes),
                           arena_printf(ctx->arena, "%d", k->rate_limit_per_minute),
                           secret_sha256_hex,
                           k->secret_prefix,
                           k->created_by,
                           k->expire_us ? arena_printf(ctx->arena, "%lld", (long long)k->expire_us) : NULL};
  bool found;
  auth_api_key row;
  /* The expiry is checked against the database's clock too, the one create_time comes from. */
  rpc_status st = one_key(ctx,
                          "INSERT INTO api_keys (key_id, display_name, roles, route_prefixes, rate_limit_per_minute, "
                          "secret_sha256, secret_prefix, created_by, expire_time) "
                          "SELECT $1::text, $2::text, string_to_array($3::text, E'\\n'), string_to_array($4::text, E'\\n'), "
                          "$5::int, decode($6::text, 'hex'), $7::text, $8::text, " SQL_AT("$9") " "
                          "WHERE $9::bigint IS NULL OR " SQL_AT("$9") " > now() "
                          "RETURNING " KEY_COLUMNS,
                          9, params, &row, &found);
  if (!rpc_ok(st)) return st;
  *expired = !found;
  if (found) *k = row;
  return RPC_OK;
}

rpc_status auth_api_key_get(rpc_ctx *ctx, const char *key_id, auth_api_key *out, bool *found) {
  const char *params[1] = {key_id};
  return one_key(ctx, "SELECT " KEY_COLUMNS " FROM api_keys WHERE key_id = $1::text", 1, params, out, found);
}

rpc_status auth_api_key_revoke(rpc_ctx *ctx, const char *key_id, auth_api_key *out, bool *found, bool *changed) {
  const char *params[1] = {key_id};
  rpc_status st = one_key(ctx,
                          "UPDATE api_keys SET revoke_time = now() WHERE key_id = $1::text AND revoke_time IS NULL "
                          "RETURNING " KEY_COLUMNS,
                          1, params, out, changed);
  if (!rpc_ok(st)) return st;
  if (*changed) {
    *found = true;
    return RPC_OK;
  }
  return auth_api_key_get(ctx, key_id, out, found); /* revoked already, or no such key */
}

rpc_status auth_api_key_list(rpc_ctx *ctx, bool show_revoked, const char *after_us, const char *after_id,
                             int limit, auth_api_key **out, int *n) {
  const char *params[4] = {show_revoked ? "t" : "f", after_us, after_id, arena_printf(ctx->arena, "%d", limit)};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " KEY_COLUMNS " FROM api_keys "
                          "WHERE ($1::boolean OR revoke_time IS NULL) "
                          "AND ($2::bigint IS NULL OR (" SQL_US("create_time") ", key_id) < ($2::bigint, $3::text)) "
                          "ORDER BY create_time DESC, key_id DESC LIMIT $4::int",
                          4, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *out = arena_alloc(ctx->arena, sizeof **out * (size_t)(*n ? *n : 1));
  for (int i = 0; i < *n; i++) row_to_key(ctx->arena, r, i, &(*out)[i]);
  return RPC_OK;
}
