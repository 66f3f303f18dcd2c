/* The users table of the auth service: parameterized SQL for account creation,
 * lookups, the lockout counter, keyset-paginated listing and role changes. */
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "svc/auth/auth.h"

#define ACCOUNT_COLUMNS                                                                     \
  "user_id, email, username, first_name, last_name, password_hash, roles, is_verified, "    \
  "is_active, extract(epoch FROM created_at)::bigint, "                                     \
  "coalesce(extract(epoch FROM last_login_at)::bigint, 0), "                                \
  "coalesce(greatest(0, ceil(extract(epoch FROM locked_until - now())))::bigint, 0), "     \
  "(extract(epoch FROM created_at) * 1000000)::bigint"

/* Parses a text[] of plain role names, "{passenger,admin}". */
static void parse_roles(arena *a, const char *text, auth_account *acc) {
  acc->n_roles = 0;
  if (!text || text[0] != '{') return;
  const char *p = text + 1;
  while (*p && *p != '}' && acc->n_roles < RPC_MAX_ROLES) {
    size_t n = strcspn(p, ",}");
    acc->roles[acc->n_roles++] = arena_strndup(a, p, n);
    p += n;
    if (*p == ',') p++;
  }
}

static void row_to_account(arena *a, const PGresult *r, int row, auth_account *acc) {
  memset(acc, 0, sizeof *acc);
  acc->user_id = pg_value(r, row, 0);
  acc->email = pg_value(r, row, 1);
  acc->username = pg_value(r, row, 2);
  acc->first_name = pg_value(r, row, 3);
  acc->last_name = pg_value(r, row, 4);
  acc->password_hash = pg_value(r, row, 5);
  parse_roles(a, pg_value(r, row, 6), acc);
  acc->is_verified = strcmp(pg_value(r, row, 7), "t") == 0;
  acc->is_active = strcmp(pg_value(r, row, 8), "t") == 0;
  acc->created_unix = strtoll(pg_value(r, row, 9), NULL, 10);
  acc->last_login_unix = strtoll(pg_value(r, row, 10), NULL, 10);
  acc->locked_for_s = strtoll(pg_value(r, row, 11), NULL, 10);
  acc->cursor_us = strtoll(pg_value(r, row, 12), NULL, 10);
}

/* "{a,b}" from validated role names. */
static const char *roles_literal(arena *a, const char *const *roles, int n) {
  size_t len = 3;
  for (int i = 0; i < n; i++) len += strlen(roles[i]) + 1;
  char *out = arena_alloc(a, len);
  strcpy(out, "{");
  for (int i = 0; i < n; i++) {
    if (i) strcat(out, ",");
    strcat(out, roles[i]);
  }
  strcat(out, "}");
  return out;
}

static rpc_status one_account(rpc_ctx *ctx, const char *sql, int n, const char *const *params, auth_account *out,
                              bool *found) {
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, sql, n, params);
  if (!rpc_ok(st)) return st;
  *found = PQntuples(r) == 1;
  if (*found) row_to_account(ctx->arena, r, 0, out);
  return RPC_OK;
}

rpc_status auth_account_insert(rpc_ctx *ctx, const auth_new_account *n, auth_account *out) {
  char user_id[37];
  crypto_uuid_v4(user_id);
  const char *params[12] = {user_id,          n->email,          n->username,
                            n->password_hash, roles_literal(ctx->arena, n->roles, n->n_roles),
                            n->first_name,    n->last_name,      n->phone_number,
                            n->date_of_birth, n->gender,         n->address,
                            n->is_verified ? "t" : "f"};
  bool found;
  rpc_status st = one_account(ctx,
                              "INSERT INTO users (user_id, email, username, password_hash, roles, first_name, "
                              "last_name, phone_number, date_of_birth, gender, address, is_verified) "
                              "VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9::date, $10, $11, $12::boolean) "
                              "RETURNING " ACCOUNT_COLUMNS,
                              12, params, out, &found);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS && st.field) {
    bool email = strcmp(st.field, "users_email_key") == 0;
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, email ? "EMAIL_TAKEN" : "USERNAME_TAKEN",
                     email ? "an account with this email already exists" : "this username is taken");
  }
  return st;
}

rpc_status auth_account_by_login(rpc_ctx *ctx, const char *login, auth_account *out, bool *found) {
  const char *params[1] = {login};
  return one_account(ctx,
                     "SELECT " ACCOUNT_COLUMNS " FROM users WHERE lower(email) = lower($1) OR lower(username) = "
                     "lower($1) ORDER BY (lower(email) = lower($1)) DESC LIMIT 1",
                     1, params, out, found);
}

rpc_status auth_account_by_id(rpc_ctx *ctx, const char *user_id, auth_account *out, bool *found) {
  if (!crypto_uuid_valid(user_id)) {
    *found = false;
    return RPC_OK;
  }
  const char *params[1] = {user_id};
  return one_account(ctx, "SELECT " ACCOUNT_COLUMNS " FROM users WHERE user_id = $1::uuid", 1, params, out, found);
}

rpc_status auth_account_by_email(rpc_ctx *ctx, const char *email, auth_account *out, bool *found) {
  const char *params[1] = {email};
  return one_account(ctx, "SELECT " ACCOUNT_COLUMNS " FROM users WHERE lower(email) = lower($1)", 1, params, out,
                     found);
}

rpc_status auth_account_record_failure(rpc_ctx *ctx, const char *user_id, int64_t *locked_for_s) {
  const auth_state *s = ctx->state;
  char threshold[24], lock_s[24];
  snprintf(threshold, sizeof threshold, "%lld", (long long)s->settings.lockout_failures);
  snprintf(lock_s, sizeof lock_s, "%lld", (long long)s->settings.lockout_s);
  const char *params[3] = {user_id, threshold, lock_s};
  PGresult *r;
  /* One statement: concurrent failures each count, and the lock is set exactly when the
   * count reaches the threshold. An expired lock restarts the count. */
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "UPDATE users SET "
      " failed_logins = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_logins + 1 END,"
      " locked_until = CASE WHEN (CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_logins + 1 END) >= $2::int"
      "   THEN now() + make_interval(secs => $3::int) ELSE NULL END,"
      " updated_at = now() "
      "WHERE user_id = $1::uuid AND (locked_until IS NULL OR locked_until <= now()) "
      "RETURNING coalesce(ceil(extract(epoch FROM locked_until - now()))::bigint, 0)",
      3, params);
  if (!rpc_ok(st)) return st;
  *locked_for_s = PQntuples(r) == 1 ? strtoll(pg_value(r, 0, 0), NULL, 10) : 0;
  return RPC_OK;
}

rpc_status auth_account_record_login(rpc_ctx *ctx, const char *user_id) {
  const char *params[1] = {user_id};
  return pg_exec(ctx->arena, NULL,
                 "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = now() "
                 "WHERE user_id = $1::uuid",
                 1, params);
}

rpc_status auth_account_set_password(rpc_ctx *ctx, const char *user_id, const char *hash, bool mark_verified) {
  const char *params[3] = {user_id, hash, mark_verified ? "t" : "f"};
  return pg_exec(ctx->arena, NULL,
                 "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL, "
                 "is_verified = is_verified OR $3::boolean, updated_at = now() WHERE user_id = $1::uuid",
                 3, params);
}

rpc_status auth_account_mark_verified(rpc_ctx *ctx, const char *user_id) {
  const char *params[1] = {user_id};
  return pg_exec(ctx->arena, NULL, "UPDATE users SET is_verified = true, updated_at = now() WHERE user_id = $1::uuid",
                 1, params);
}

rpc_status auth_account_list(rpc_ctx *ctx, int page_size, const char *after_created, const char *after_id,
                             const char *role, auth_account **out, int *n) {
  char limit[16];
  snprintf(limit, sizeof limit, "%d", page_size + 1);
  const char *params[4] = {role, after_created, after_id, limit};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " ACCOUNT_COLUMNS " FROM users "
                          "WHERE ($1::text IS NULL OR $1::text = ANY(roles)) "
                          "AND ($2::bigint IS NULL OR "
                          "((extract(epoch FROM created_at) * 1000000)::bigint, user_id) < ($2::bigint, $3::uuid)) "
                          "ORDER BY created_at DESC, user_id DESC LIMIT $4::int",
                          4, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *out = arena_alloc(ctx->arena, sizeof(auth_account) * (size_t)(*n ? *n : 1));
  for (int i = 0; i < *n; i++) row_to_account(ctx->arena, r, i, &(*out)[i]);
  return RPC_OK;
}

bool auth_admin_exists(rpc_ctx *ctx, rpc_status *st) {
  PGresult *r;
  *st = pg_exec(ctx->arena, &r, "SELECT 1 FROM users WHERE 'admin' = ANY(roles) AND is_active LIMIT 1", 0, NULL);
  return rpc_ok(*st) && PQntuples(r) > 0;
}

static bool has_role(const char *const *roles, int n, const char *role) {
  for (int i = 0; i < n; i++)
    if (strcmp(roles[i], role) == 0) return true;
  return false;
}

rpc_status auth_account_set_roles(rpc_ctx *ctx, const char *user_id, const char *const *roles, int n_roles,
                                  auth_account *out) {
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  /* Serialises role changes so two admins cannot demote each other at once. */
  st = pg_exec(ctx->arena, NULL, "SELECT pg_advisory_xact_lock(hashtext('metro.auth.admins'))", 0, NULL);
  bool found = false;
  if (rpc_ok(st)) st = auth_account_by_id(ctx, user_id, out, &found);
  if (rpc_ok(st) && !found) st = rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "USER_NOT_FOUND", "no such user");
  if (rpc_ok(st) && has_role(out->roles, out->n_roles, "admin") && !has_role(roles, n_roles, "admin")) {
    PGresult *r;
    const char *params[1] = {user_id};
    st = pg_exec(ctx->arena, &r,
                 "SELECT count(*) FROM users WHERE 'admin' = ANY(roles) AND is_active AND user_id <> $1::uuid", 1,
                 params);
    if (rpc_ok(st) && strcmp(pg_value(r, 0, 0), "0") == 0)
      st = rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "LAST_ADMIN", "the last admin cannot be removed");
  }
  if (rpc_ok(st)) {
    const char *params[2] = {user_id, roles_literal(ctx->arena, roles, n_roles)};
    st = one_account(ctx,
                     "UPDATE users SET roles = $2::text[], updated_at = now() WHERE user_id = $1::uuid "
                     "RETURNING " ACCOUNT_COLUMNS,
                     2, params, out, &found);
  }
  if (rpc_ok(st)) return pg_commit(ctx->arena);
  pg_rollback();
  return st;
}

static Google__Protobuf__Timestamp *timestamp(rpc_ctx *ctx, int64_t unix_s) {
  if (!unix_s) return NULL;
  Google__Protobuf__Timestamp *t = RPC_NEW(ctx, Google__Protobuf__Timestamp, google__protobuf__timestamp__init);
  t->seconds = unix_s;
  return t;
}

Metro__Auth__V1__User *auth_account_to_proto(rpc_ctx *ctx, const auth_account *acc) {
  Metro__Auth__V1__User *u = RPC_NEW(ctx, Metro__Auth__V1__User, metro__auth__v1__user__init);
  u->user_id = (char *)acc->user_id;
  u->email = (char *)acc->email;
  u->username = (char *)acc->username;
  u->first_name = (char *)acc->first_name;
  u->last_name = (char *)acc->last_name;
  u->n_roles = (size_t)acc->n_roles;
  u->roles = arena_alloc(ctx->arena, sizeof(char *) * (size_t)(acc->n_roles ? acc->n_roles : 1));
  memcpy(u->roles, acc->roles, sizeof(char *) * (size_t)acc->n_roles); /* acc may live on the stack */
  u->is_verified = acc->is_verified;
  u->is_active = acc->is_active;
  u->create_time = timestamp(ctx, acc->created_unix);
  u->last_login_time = timestamp(ctx, acc->last_login_unix);
  return u;
}
