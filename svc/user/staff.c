/* The staff and admins tables: parameterized SQL for staff lookups, idempotent creation
 * by user id, saves, deletion and the filtered keyset list; the admin marker; and the
 * removal of every profile of a deleted account. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "svc/user/user.h"

#define STAFF_COLUMNS                                                                       \
  "staff_id, user_id, username, email, first_name, last_name, phone_number, "              \
  "to_char(date_of_birth, 'YYYY-MM-DD'), is_active, "                                      \
  "(extract(epoch FROM created_at) * 1000000)::bigint, (extract(epoch FROM updated_at) * 1000000)::bigint"

static Metro__User__V1__Staff *row_to_staff(rpc_ctx *ctx, const PGresult *r, int row) {
  Metro__User__V1__Staff *s = RPC_NEW(ctx, Metro__User__V1__Staff, metro__user__v1__staff__init);
  char **text[] = {&s->staff_id,   &s->user_id,   &s->username,     &s->email,
                   &s->first_name, &s->last_name, &s->phone_number, &s->date_of_birth};
  for (int i = 0; i < (int)(sizeof text / sizeof text[0]); i++) *text[i] = (char *)user_cell(ctx, r, row, i);
  const char *active = pg_value(r, row, 8);
  s->is_active = active && strcmp(active, "t") == 0;
  s->create_time = user_timestamp(ctx, pg_value(r, row, 9));
  s->update_time = user_timestamp(ctx, pg_value(r, row, 10));
  return s;
}

static rpc_status one_staff(rpc_ctx *ctx, const char *sql, int n, const char *const *params,
                            Metro__User__V1__Staff **out) {
  PGresult *r;
  *out = NULL;
  rpc_status st = pg_exec(ctx->arena, &r, sql, n, params);
  if (rpc_ok(st) && PQntuples(r) == 1) *out = row_to_staff(ctx, r, 0);
  return st;
}

rpc_status user_staff_by_id(rpc_ctx *ctx, const char *staff_id, bool for_update, Metro__User__V1__Staff **out) {
  *out = NULL;
  if (!crypto_uuid_valid(staff_id)) return RPC_OK;
  const char *params[1] = {staff_id};
  if (for_update)
    return one_staff(ctx, "SELECT " STAFF_COLUMNS " FROM staff WHERE staff_id = $1::uuid FOR UPDATE", 1, params, out);
  return one_staff(ctx, "SELECT " STAFF_COLUMNS " FROM staff WHERE staff_id = $1::uuid", 1, params, out);
}

rpc_status user_staff_by_user(rpc_ctx *ctx, const char *user_id, Metro__User__V1__Staff **out) {
  *out = NULL;
  if (!crypto_uuid_valid(user_id)) return RPC_OK;
  const char *params[1] = {user_id};
  return one_staff(ctx, "SELECT " STAFF_COLUMNS " FROM staff WHERE user_id = $1::uuid", 1, params, out);
}

rpc_status user_staff_insert(rpc_ctx *ctx, const Metro__User__V1__Staff *s, bool *created, Metro__User__V1__Staff **out) {
  char staff_id[37];
  crypto_uuid_v4(staff_id);
  const char *params[8] = {staff_id,      s->user_id,   s->username,  s->email, s->first_name,
                           s->last_name, user_or_null(s->phone_number), user_or_null(s->date_of_birth)};
  rpc_status st = one_staff(ctx,
                            "INSERT INTO staff (staff_id, user_id, username, email, first_name, last_name, "
                            "phone_number, date_of_birth) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8::date) "
                            "ON CONFLICT (user_id) DO NOTHING RETURNING " STAFF_COLUMNS,
                            8, params, out);
  *created = rpc_ok(st) && *out;
  if (rpc_ok(st) && !*out) st = user_staff_by_user(ctx, s->user_id, out);
  return st;
}

rpc_status user_staff_save(rpc_ctx *ctx, const Metro__User__V1__Staff *s, Metro__User__V1__Staff **out) {
  const char *params[6] = {s->staff_id,
                           s->first_name,
                           s->last_name,
                           user_or_null(s->phone_number),
                           user_or_null(s->date_of_birth),
                           s->is_active ? "t" : "f"};
  rpc_status st = one_staff(ctx,
                            "UPDATE staff SET first_name = $2, last_name = $3, phone_number = $4, "
                            "date_of_birth = $5::date, is_active = $6::boolean, updated_at = now() "
                            "WHERE staff_id = $1::uuid RETURNING " STAFF_COLUMNS,
                            6, params, out);
  if (rpc_ok(st) && !*out) st = user_not_found(ctx, "STAFF_NOT_FOUND", "staff member");
  return st;
}

rpc_status user_staff_delete(rpc_ctx *ctx, const char *staff_id, Metro__User__V1__Staff **out) {
  *out = NULL;
  if (!crypto_uuid_valid(staff_id)) return RPC_OK;
  const char *params[1] = {staff_id};
  return one_staff(ctx, "DELETE FROM staff WHERE staff_id = $1::uuid RETURNING " STAFF_COLUMNS, 1, params, out);
}

rpc_status user_staff_list(rpc_ctx *ctx, const user_list_query *q, Metro__User__V1__ListStaffResponse *out) {
  char limit[16];
  snprintf(limit, sizeof limit, "%d", q->page_size + 1);
  const char *params[5] = {q->name_pattern, q->email_pattern, q->after_created_us, q->after_id, limit};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " STAFF_COLUMNS " FROM staff "
                          "WHERE ($1::text IS NULL OR (first_name || ' ' || last_name) ILIKE $1 ESCAPE '\\' "
                          "       OR username ILIKE $1 ESCAPE '\\') "
                          "AND ($2::text IS NULL OR email ILIKE $2 ESCAPE '\\') "
                          "AND ($3::bigint IS NULL OR ((extract(epoch FROM created_at) * 1000000)::bigint, "
                          "     staff_id) < ($3::bigint, $4::uuid)) "
                          "ORDER BY (extract(epoch FROM created_at) * 1000000)::bigint DESC, staff_id DESC "
                          "LIMIT $5::int",
                          5, params);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r), shown = n > q->page_size ? q->page_size : n;
  out->staff = arena_alloc(ctx->arena, sizeof(void *) * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) out->staff[out->n_staff++] = row_to_staff(ctx, r, i);
  out->next_page_token = "";
  if (n > q->page_size)
    out->next_page_token =
        (char *)user_page_token(ctx, "s", strtoll(pg_value(r, shown - 1, 9), NULL, 10), pg_value(r, shown - 1, 0));
  return RPC_OK;
}

rpc_status user_admin_by_user(rpc_ctx *ctx, const char *user_id, Metro__User__V1__Admin **out) {
  *out = NULL;
  if (!crypto_uuid_valid(user_id)) return RPC_OK;
  const char *params[1] = {user_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT admin_id, user_id, (extract(epoch FROM created_at) * 1000000)::bigint "
                          "FROM admins WHERE user_id = $1::uuid",
                          1, params);
  if (!rpc_ok(st) || PQntuples(r) != 1) return st;
  Metro__User__V1__Admin *a = RPC_NEW(ctx, Metro__User__V1__Admin, metro__user__v1__admin__init);
  a->admin_id = (char *)user_cell(ctx, r, 0, 0);
  a->user_id = (char *)user_cell(ctx, r, 0, 1);
  a->create_time = user_timestamp(ctx, pg_value(r, 0, 2));
  *out = a;
  return RPC_OK;
}

rpc_status user_admin_insert(rpc_ctx *ctx, const char *user_id) {
  char admin_id[37];
  crypto_uuid_v4(admin_id);
  const char *params[2] = {admin_id, user_id};
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO admins (admin_id, user_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT (user_id) DO NOTHING",
                 2, params);
}

rpc_status user_profiles_delete_all(rpc_ctx *ctx, const char *user_id) {
  const char *params[1] = {user_id};
  rpc_status st = pg_exec(ctx->arena, NULL, "DELETE FROM passengers WHERE user_id = $1::uuid", 1, params);
  if (rpc_ok(st)) st = pg_exec(ctx->arena, NULL, "DELETE FROM staff WHERE user_id = $1::uuid", 1, params);
  if (rpc_ok(st)) st = pg_exec(ctx->arena, NULL, "DELETE FROM admins WHERE user_id = $1::uuid", 1, params);
  return st;
}
