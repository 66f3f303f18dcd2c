/* The passengers table: parameterized SQL for lookups, idempotent creation by user id,
 * whole-row saves after a field-masked merge, deletion and the filtered keyset list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "svc/user/user.h"

#define PASSENGER_COLUMNS                                                                              \
  "passenger_id, user_id, username, email, first_name, last_name, phone_number, "                     \
  "to_char(date_of_birth, 'YYYY-MM-DD'), gender, address, emergency_contact, "                         \
  "to_char(student_verified_until, 'YYYY-MM-DD'), pref_email, pref_sms, pref_station_alerts, is_active, " \
  "(extract(epoch FROM created_at) * 1000000)::bigint, (extract(epoch FROM updated_at) * 1000000)::bigint"

/* ---- helpers shared with staff.c ---- */

const char *user_cell(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return v ? arena_strdup(ctx->arena, v) : "";
}

Google__Protobuf__Timestamp *user_timestamp(rpc_ctx *ctx, const char *epoch_us) {
  if (!epoch_us || !*epoch_us) return NULL;
  long long us = strtoll(epoch_us, NULL, 10);
  Google__Protobuf__Timestamp *t = RPC_NEW(ctx, Google__Protobuf__Timestamp, google__protobuf__timestamp__init);
  t->seconds = us / 1000000;
  t->nanos = (int32_t)(us % 1000000) * 1000;
  return t;
}

const char *user_or_null(const char *s) { return s && *s ? s : NULL; }

rpc_status user_not_found(rpc_ctx *ctx, const char *reason, const char *what) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, reason, "no such %s", what);
}

static bool is_true(const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return v && strcmp(v, "t") == 0;
}

static Metro__User__V1__Passenger *row_to_passenger(rpc_ctx *ctx, const PGresult *r, int row) {
  Metro__User__V1__Passenger *p = RPC_NEW(ctx, Metro__User__V1__Passenger, metro__user__v1__passenger__init);
  char **text[] = {&p->passenger_id, &p->user_id,   &p->username,          &p->email,
                   &p->first_name,   &p->last_name, &p->phone_number,      &p->date_of_birth,
                   &p->gender,       &p->address,   &p->emergency_contact, &p->student_verified_until};
  for (int i = 0; i < (int)(sizeof text / sizeof text[0]); i++) *text[i] = (char *)user_cell(ctx, r, row, i);
  p->preferences = RPC_NEW(ctx, Metro__User__V1__Preferences, metro__user__v1__preferences__init);
  p->preferences->email = is_true(r, row, 12);
  p->preferences->sms = is_true(r, row, 13);
  p->preferences->station_alerts = is_true(r, row, 14);
  p->is_active = is_true(r, row, 15);
  p->create_time = user_timestamp(ctx, pg_value(r, row, 16));
  p->update_time = user_timestamp(ctx, pg_value(r, row, 17));
  return p;
}

static rpc_status one_passenger(rpc_ctx *ctx, const char *sql, int n, const char *const *params,
                                Metro__User__V1__Passenger **out) {
  PGresult *r;
  *out = NULL;
  rpc_status st = pg_exec(ctx->arena, &r, sql, n, params);
  if (rpc_ok(st) && PQntuples(r) == 1) *out = row_to_passenger(ctx, r, 0);
  return st;
}

rpc_status user_passenger_by_id(rpc_ctx *ctx, const char *passenger_id, bool for_update,
                                Metro__User__V1__Passenger **out) {
  *out = NULL;
  if (!crypto_uuid_valid(passenger_id)) return RPC_OK;
  const char *params[1] = {passenger_id};
  if (for_update)
    return one_passenger(ctx, "SELECT " PASSENGER_COLUMNS " FROM passengers WHERE passenger_id = $1::uuid FOR UPDATE",
                         1, params, out);
  return one_passenger(ctx, "SELECT " PASSENGER_COLUMNS " FROM passengers WHERE passenger_id = $1::uuid", 1, params,
                       out);
}

rpc_status user_passenger_by_user(rpc_ctx *ctx, const char *user_id, bool for_update, Metro__User__V1__Passenger **out) {
  *out = NULL;
  if (!crypto_uuid_valid(user_id)) return RPC_OK;
  const char *params[1] = {user_id};
  if (for_update)
    return one_passenger(ctx, "SELECT " PASSENGER_COLUMNS " FROM passengers WHERE user_id = $1::uuid FOR UPDATE", 1,
                         params, out);
  return one_passenger(ctx, "SELECT " PASSENGER_COLUMNS " FROM passengers WHERE user_id = $1::uuid", 1, params, out);
}

static const char *flag(bool b) { return b ? "t" : "f"; }

rpc_status user_passenger_insert(rpc_ctx *ctx, const Metro__User__V1__Passenger *p, bool *created,
                                 Metro__User__V1__Passenger **out) {
  char passenger_id[37];
  crypto_uuid_v4(passenger_id);
  const Metro__User__V1__Preferences *prefs = p->preferences;
  const char *params[15] = {passenger_id,
                            p->user_id,
                            p->username,
                            p->email,
                            p->first_name,
                            p->last_name,
                            user_or_null(p->phone_number),
                            user_or_null(p->date_of_birth),
                            user_or_null(p->gender),
                            user_or_null(p->address),
                            user_or_null(p->emergency_contact),
                            user_or_null(p->student_verified_until),
                            prefs ? flag(prefs->email) : "t",
                            prefs ? flag(prefs->sms) : "f",
                            prefs ? flag(prefs->station_alerts) : "t"};
  rpc_status st = one_passenger(
      ctx,
      "INSERT INTO passengers (passenger_id, user_id, username, email, first_name, last_name, phone_number, "
      "date_of_birth, gender, address, emergency_contact, student_verified_until, pref_email, pref_sms, "
      "pref_station_alerts) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8::date, $9, $10, $11, $12::date, "
      "$13::boolean, $14::boolean, $15::boolean) ON CONFLICT (user_id) DO NOTHING RETURNING " PASSENGER_COLUMNS,
      15, params, out);
  *created = rpc_ok(st) && *out;
  if (rpc_ok(st) && !*out) st = user_passenger_by_user(ctx, p->user_id, false, out);
  return st;
}

rpc_status user_passenger_save(rpc_ctx *ctx, const Metro__User__V1__Passenger *p, Metro__User__V1__Passenger **out) {
  const Metro__User__V1__Preferences *prefs = p->preferences;
  const char *params[13] = {p->passenger_id,
                            p->first_name,
                            p->last_name,
                            user_or_null(p->phone_number),
                            user_or_null(p->date_of_birth),
                            user_or_null(p->gender),
                            user_or_null(p->address),
                            user_or_null(p->emergency_contact),
                            user_or_null(p->student_verified_until),
                            flag(prefs && prefs->email),
                            flag(prefs && prefs->sms),
                            flag(prefs && prefs->station_alerts),
                            flag(p->is_active)};
  rpc_status st = one_passenger(
      ctx,
      "UPDATE passengers SET first_name = $2, last_name = $3, phone_number = $4, date_of_birth = $5::date, "
      "gender = $6, address = $7, emergency_contact = $8, student_verified_until = $9::date, "
      "pref_email = $10::boolean, pref_sms = $11::boolean, pref_station_alerts = $12::boolean, "
      "is_active = $13::boolean, updated_at = now() WHERE passenger_id = $1::uuid RETURNING " PASSENGER_COLUMNS,
      13, params, out);
  if (rpc_ok(st) && !*out) st = user_not_found(ctx, "PASSENGER_NOT_FOUND", "passenger");
  return st;
}

rpc_status user_passenger_delete(rpc_ctx *ctx, const char *passenger_id, Metro__User__V1__Passenger **out) {
  *out = NULL;
  if (!crypto_uuid_valid(passenger_id)) return RPC_OK;
  const char *params[1] = {passenger_id};
  return one_passenger(ctx, "DELETE FROM passengers WHERE passenger_id = $1::uuid RETURNING " PASSENGER_COLUMNS, 1,
                       params, out);
}

rpc_status user_passenger_list(rpc_ctx *ctx, const user_list_query *q, Metro__User__V1__ListPassengersResponse *out) {
  char limit[16];
  snprintf(limit, sizeof limit, "%d", q->page_size + 1);
  const char *params[5] = {q->name_pattern, q->email_pattern, q->after_created_us, q->after_id, limit};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " PASSENGER_COLUMNS " FROM passengers "
                          "WHERE ($1::text IS NULL OR (first_name || ' ' || last_name) ILIKE $1 ESCAPE '\\' "
                          "       OR username ILIKE $1 ESCAPE '\\') "
                          "AND ($2::text IS NULL OR email ILIKE $2 ESCAPE '\\') "
                          "AND ($3::bigint IS NULL OR ((extract(epoch FROM created_at) * 1000000)::bigint, "
                          "     passenger_id) < ($3::bigint, $4::uuid)) "
                          "ORDER BY (extract(epoch FROM created_at) * 1000000)::bigint DESC, passenger_id DESC "
                          "LIMIT $5::int",
                          5, params);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r), shown = n > q->page_size ? q->page_size : n;
  out->passengers = arena_alloc(ctx->arena, sizeof(void *) * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) out->passengers[out->n_passengers++] = row_to_passenger(ctx, r, i);
  out->next_page_token = "";
  if (n > q->page_size)
    out->next_page_token = (char *)user_page_token(ctx, "p", strtoll(pg_value(r, shown - 1, 16), NULL, 10),
                                                   pg_value(r, shown - 1, 0));
  return RPC_OK;
}
