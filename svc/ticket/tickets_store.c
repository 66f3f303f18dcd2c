/* The tickets table: insert a bought ticket, read one (optionally locked) or a filtered,
 * keyset-paginated list, and the conditional transition UPDATE ... WHERE status AND version
 * on which the whole lifecycle rests. Rows become metro.ticket.v1.Ticket messages here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/b64.h"
#include "common/page_token.h"
#include "common/pg.h"
#include "common/text.h"
#include "svc/ticket/ticket.h"

#define DEFAULT_PAGE 20
#define MAX_PAGE 100
#define US SQL_US
#define AT SQL_AT

/* Every read returns these columns, in this order. */
#define COLUMNS                                                                                                     \
  "ticket_id, passenger_id, user_id, ticket_type, status, origin_station_id, destination_station_id, "              \
  "total_passengers, passenger_type, original_price, passenger_discount_amount, promotion_discount_amount, "        \
  "total_price, quote, promotion_id, promotion_code, payment_method, payment_id, " US("payment_deadline") ", "      \
  US("valid_from") ", " US("valid_until") ", " US("auto_activate_at") ", journeys_allowed, journeys_completed, "    \
  "refund_percent, refund_amount, cancel_reason, version, tapped, validity_days, " US("created_at") ", "            \
  US("updated_at") ", station_count, qr_token, rotation_secret, inside, entry_station_id, " US("entry_at") ", " \
  "last_rotating_counter, " US("last_tap_at") ", route_ids, recent_tap_us, last_accept_gate, last_accept_direction, " \
  US("last_accept_at")

enum {
  C_ID, C_PASSENGER, C_USER, C_TYPE, C_STATUS, C_ORIGIN, C_DEST, C_TOTAL_PAX, C_PAX_TYPE, C_ORIGINAL, C_PAX_DISC,
  C_PROMO_DISC, C_TOTAL, C_QUOTE, C_PROMO_ID, C_PROMO_CODE, C_METHOD, C_PAYMENT_ID, C_DEADLINE, C_FROM, C_UNTIL,
  C_AUTO, C_ALLOWED, C_COMPLETED, C_REFUND_PCT, C_REFUND_AMT, C_CANCEL, C_VERSION, C_TAPPED, C_VALIDITY, C_CREATED,
  C_UPDATED, C_STATION_COUNT, C_QR_TOKEN, C_SECRET, C_INSIDE, C_ENTRY_STATION, C_ENTRY_AT, C_LAST_COUNTER, C_LAST_TAP,
  C_ROUTE_IDS, C_RECENT_TAPS, C_ACCEPT_GATE, C_ACCEPT_DIRECTION, C_ACCEPT_AT
};

static const char *cell(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? "" : arena_strdup(ctx->arena, PQgetvalue(r, row, col));
}

static int64_t num(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : atoll(PQgetvalue(r, row, col));
}

/* The stored quote (bytea in hex text form) back into its message. */
static const Metro__Ticket__V1__Quote *stored_quote(rpc_ctx *ctx, const PGresult *r, int row) {
  size_t len = 0;
  unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, C_QUOTE), &len);
  if (!raw) return NULL;
  ProtobufCMessage *m = protobuf_c_message_unpack(&metro__ticket__v1__quote__descriptor, &ctx->alloc, len, raw);
  PQfreemem(raw);
  return (const Metro__Ticket__V1__Quote *)m;
}

static rpc_status row_at(rpc_ctx *ctx, const PGresult *r, int i, tk_row **out) {
  tk_row *row = arena_alloc(ctx->arena, sizeof *row);
  Metro__Ticket__V1__Ticket *t = RPC_NEW(ctx, Metro__Ticket__V1__Ticket, metro__ticket__v1__ticket__init);
  const Metro__Ticket__V1__Quote *q = stored_quote(ctx, r, i);
  if (!q || !tk_status_parse(PQgetvalue(r, i, C_STATUS), &row->status) ||
      !tk_ticket_type_parse(PQgetvalue(r, i, C_TYPE), &row->type))
    return rpc_internal("ticket: a stored ticket row does not decode");
  t->ticket_id = (char *)cell(ctx, r, i, C_ID);
  t->passenger_id = (char *)cell(ctx, r, i, C_PASSENGER);
  t->ticket_type = (char *)tk_ticket_type_name(row->type);
  t->status = (char *)tk_status_name(row->status);
  t->origin_station_id = (char *)cell(ctx, r, i, C_ORIGIN);
  t->destination_station_id = (char *)cell(ctx, r, i, C_DEST);
  t->segments = q->segments;
  t->n_segments = q->n_segments;
  t->station_count = (int32_t)num(r, i, C_STATION_COUNT);
  t->passengers = q->passengers;
  t->total_passengers = (int32_t)num(r, i, C_TOTAL_PAX);
  t->passenger_type = (char *)cell(ctx, r, i, C_PAX_TYPE);
  t->original_price = (int32_t)num(r, i, C_ORIGINAL);
  t->passenger_discount_amount = (int32_t)num(r, i, C_PAX_DISC);
  t->promotion_discount_amount = (int32_t)num(r, i, C_PROMO_DISC);
  t->total_price = (int32_t)num(r, i, C_TOTAL);
  t->fare_breakdown = q->fare_breakdown;
  t->promotion_code = (char *)cell(ctx, r, i, C_PROMO_CODE);
  t->payment_method = (char *)cell(ctx, r, i, C_METHOD);
  t->payment_id = (char *)cell(ctx, r, i, C_PAYMENT_ID);
  t->payment_deadline = pb_timestamp(ctx, num(r, i, C_DEADLINE));
  t->valid_from = pb_timestamp(ctx, num(r, i, C_FROM));
  t->valid_until = pb_timestamp(ctx, num(r, i, C_UNTIL));
  t->auto_activate_at = pb_timestamp(ctx, num(r, i, C_AUTO));
  t->journeys_allowed = (int32_t)num(r, i, C_ALLOWED);
  t->journeys_completed = (int32_t)num(r, i, C_COMPLETED);
  t->refund_percent = (int32_t)num(r, i, C_REFUND_PCT);
  t->refund_amount = (int32_t)num(r, i, C_REFUND_AMT);
  t->cancel_reason = (char *)cell(ctx, r, i, C_CANCEL);
  t->create_time = pb_timestamp(ctx, num(r, i, C_CREATED));
  t->update_time = pb_timestamp(ctx, num(r, i, C_UPDATED));
  row->ticket = t;
  row->user_id = cell(ctx, r, i, C_USER);
  row->promotion_id = cell(ctx, r, i, C_PROMO_ID);
  row->version = (int)num(r, i, C_VERSION);
  row->tapped = strcmp(PQgetvalue(r, i, C_TAPPED), "t") == 0;
  row->validity_days = (int)num(r, i, C_VALIDITY);
  row->qr_token = PQgetisnull(r, i, C_QR_TOKEN) ? NULL : cell(ctx, r, i, C_QR_TOKEN);
  if (!PQgetisnull(r, i, C_SECRET)) {
    size_t len = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, C_SECRET), &len);
    row->has_secret = raw && len == GK_SECRET_LEN;
    if (row->has_secret) memcpy(row->secret, raw, GK_SECRET_LEN);
    if (raw) {
      OPENSSL_cleanse(raw, len);
      PQfreemem(raw);
    }
  }
  row->inside = strcmp(PQgetvalue(r, i, C_INSIDE), "t") == 0;
  row->entry_station_id = cell(ctx, r, i, C_ENTRY_STATION);
  row->entry_at_us = num(r, i, C_ENTRY_AT);
  row->last_rotating_counter = num(r, i, C_LAST_COUNTER);
  row->last_tap_us = num(r, i, C_LAST_TAP);
  row->n_route_ids = tk_text_array(ctx, PQgetvalue(r, i, C_ROUTE_IDS), &row->route_ids);
  const char **recent;
  size_t n_recent = tk_text_array(ctx, PQgetvalue(r, i, C_RECENT_TAPS), &recent);
  for (size_t k = 0; k < n_recent && k < TK_MAX_RECENT_TAPS; k++) row->recent_tap_us[row->n_recent_taps++] = atoll(recent[k]);
  row->last_accept_gate = cell(ctx, r, i, C_ACCEPT_GATE);
  row->last_accept_exit = strcmp(PQgetvalue(r, i, C_ACCEPT_DIRECTION), "exit") == 0;
  row->last_accept_us = num(r, i, C_ACCEPT_AT);
  *out = row;
  return RPC_OK;
}

static const char *int_text(rpc_ctx *ctx, int64_t v) { return arena_printf(ctx->arena, "%lld", (long long)v); }
static const char *us_or_null(rpc_ctx *ctx, int64_t us) { return us ? int_text(ctx, us) : NULL; }
static const char *or_null(const char *s) { return s && *s ? s : NULL; }

rpc_status tk_ticket_insert(rpc_ctx *ctx, const Metro__Ticket__V1__Ticket *t, const char *user_id,
                            const Metro__Ticket__V1__Quote *q, const char *promotion_id, int validity_days,
                            const char *secret, const char *qr_token, const char *qr_kid) {
  size_t len = protobuf_c_message_get_packed_size(&q->base);
  uint8_t *packed = arena_alloc(ctx->arena, len ? len : 1);
  protobuf_c_message_pack(&q->base, packed);
  /* route_ids: the journey's lines, for the station alerts of later issues. */
  char *routes = arena_strdup(ctx->arena, "{");
  for (size_t i = 0; i < q->n_segments; i++)
    routes = arena_printf(ctx->arena, "%s%s%s", routes, i ? "," : "", q->segments[i]->route_id);
  routes = arena_printf(ctx->arena, "%s}", routes);
  const char *params[] = {
      t->ticket_id, t->passenger_id, user_id, t->ticket_type, t->status, or_null(t->origin_station_id),
      or_null(t->destination_station_id), int_text(ctx, t->station_count), routes, int_text(ctx, t->total_passengers),
      or_null(t->passenger_type), int_text(ctx, t->original_price), int_text(ctx, t->passenger_discount_amount),
      int_text(ctx, t->promotion_discount_amount), int_text(ctx, t->total_price), pg_bytea_literal(ctx->arena, packed, len),
      promotion_id, or_null(t->promotion_code), t->payment_method, us_or_null(ctx, pb_timestamp_us(t->payment_deadline)),
      us_or_null(ctx, pb_timestamp_us(t->valid_from)), us_or_null(ctx, pb_timestamp_us(t->valid_until)),
      us_or_null(ctx, pb_timestamp_us(t->auto_activate_at)), int_text(ctx, validity_days),
      int_text(ctx, t->journeys_allowed), int_text(ctx, pb_timestamp_us(t->create_time)), secret, qr_token, qr_kid};
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO tickets (ticket_id, passenger_id, user_id, ticket_type, status, origin_station_id, "
                 "destination_station_id, station_count, route_ids, total_passengers, passenger_type, original_price, "
                 "passenger_discount_amount, promotion_discount_amount, total_price, quote, promotion_id, "
                 "promotion_code, payment_method, payment_deadline, valid_from, valid_until, auto_activate_at, "
                 "validity_days, journeys_allowed, created_at, updated_at, rotation_secret, qr_token, qr_kid) "
                 "VALUES ($1::uuid, $2::uuid, $3::uuid, $4, "
                 "$5, $6, $7, $8::int, $9::text[], $10::int, $11, $12::int, $13::int, $14::int, $15::int, $16::bytea, "
                 "$17::uuid, $18, $19, " AT("$20") ", " AT("$21") ", " AT("$22") ", " AT("$23") ", $24::int, "
                 "$25::int, " AT("$26") ", " AT("$26") ", $27::bytea, $28, $29)",
                 29, params);
}

rpc_status tk_ticket_get(rpc_ctx *ctx, const char *ticket_id, bool for_update, tk_row **out) {
  *out = NULL;
  if (!tk_is_uuid(ticket_id)) return RPC_OK; /* names no ticket */
  const char *params[] = {ticket_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          for_update ? "SELECT " COLUMNS " FROM tickets WHERE ticket_id = $1::uuid FOR UPDATE"
                                     : "SELECT " COLUMNS " FROM tickets WHERE ticket_id = $1::uuid",
                          1, params);
  if (!rpc_ok(st) || PQntuples(r) == 0) return st;
  return row_at(ctx, r, 0, out);
}

/* ---- lists ---- */

/* A local date filter "YYYY-MM-DD" as the µs of its local midnight (plus `add_days`). */
static rpc_status date_bound(rpc_ctx *ctx, const char *field, const char *date, int add_days, const char **out) {
  *out = NULL;
  if (!date || !*date) return RPC_OK;
  long day;
  if (strlen(date) != 10 || !text_parse_date(date, &day))
    return rpc_invalid(ctx->arena, field, "INVALID_DATE", "%s must be a date YYYY-MM-DD", field);
  *out = int_text(ctx, ((int64_t)(day + add_days) * 86400 - 7 * 3600) * 1000000);
  return RPC_OK;
}

rpc_status tk_ticket_list(rpc_ctx *ctx, const Metro__Ticket__V1__ListTicketsRequest *q, const char *only_user_id,
                          Metro__Ticket__V1__ListTicketsResponse *out) {
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "t", q->page_size, q->page_token, DEFAULT_PAGE, MAX_PAGE, &cur);
  if (!rpc_ok(st)) return st;
  int size = cur.page_size;
  const char *from = NULL, *until = NULL;
  tk_status status;
  tk_ticket_type type;
  if (q->status && *q->status && !tk_status_parse(q->status, &status))
    return rpc_invalid(ctx->arena, "status", "INVALID_STATUS", "status is not a ticket status");
  if (q->ticket_type && *q->ticket_type && !tk_ticket_type_parse(q->ticket_type, &type))
    return rpc_invalid(ctx->arena, "ticketType", "INVALID_TICKET_TYPE", "ticketType is not a ticket type");
  if (q->passenger_id && *q->passenger_id && !tk_is_uuid(q->passenger_id))
    return rpc_invalid(ctx->arena, "passengerId", "INVALID_PASSENGER_ID", "passengerId is not a UUID");
  st = date_bound(ctx, "createdAfter", q->created_after, 0, &from);
  if (rpc_ok(st)) st = date_bound(ctx, "createdBefore", q->created_before, 1, &until);
  if (!rpc_ok(st)) return st;
  const char *params[] = {only_user_id, or_null(q->passenger_id), or_null(q->status), or_null(q->ticket_type),
                          from, until, cur.after_us, cur.after_id, int_text(ctx, size + 1)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "SELECT " COLUMNS " FROM tickets WHERE ($1::uuid IS NULL OR user_id = $1::uuid) "
               "AND ($2::uuid IS NULL OR passenger_id = $2::uuid) AND ($3::text IS NULL OR status = $3) "
               "AND ($4::text IS NULL OR ticket_type = $4) AND ($5::bigint IS NULL OR created_at >= " AT("$5") ") "
               "AND ($6::bigint IS NULL OR created_at < " AT("$6") ") "
               "AND ($7::bigint IS NULL OR (created_at, ticket_id) < (" AT("$7") ", $8::uuid)) "
               "ORDER BY created_at DESC, ticket_id DESC LIMIT $9::int",
               9, params);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r), shown = n > size ? size : n;
  out->tickets = arena_alloc(ctx->arena, sizeof *out->tickets * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) {
    tk_row *row;
    if (!rpc_ok(st = row_at(ctx, r, i, &row))) return st;
    out->tickets[out->n_tickets++] = row->ticket;
  }
  const Metro__Ticket__V1__Ticket *last = shown ? out->tickets[shown - 1] : NULL;
  out->next_page_token =
      (char *)(n > size ? page_token_make(ctx, "t", pb_timestamp_us(last->create_time), last->ticket_id) : "");
  return RPC_OK;
}

/* ---- transitions ---- */

rpc_status tk_ticket_transition(rpc_ctx *ctx, const tk_row *row, const tk_change *c, bool *applied, tk_row **out) {
  const char *params[] = {row->ticket->ticket_id,
                          tk_status_name(row->status),
                          int_text(ctx, row->version),
                          tk_status_name(c->to),
                          us_or_null(ctx, c->valid_from_us),
                          us_or_null(ctx, c->valid_until_us),
                          us_or_null(ctx, c->auto_activate_us),
                          c->refund_percent >= 0 ? int_text(ctx, c->refund_percent) : NULL,
                          c->refund_amount >= 0 ? int_text(ctx, c->refund_amount) : NULL,
                          or_null(c->cancel_reason),
                          or_null(c->payment_id),
                          c->qr_token,
                          c->qr_kid};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "UPDATE tickets SET status = $4, version = version + 1, updated_at = now(), "
      "valid_from = CASE WHEN $5::bigint IS NULL THEN valid_from ELSE " AT("$5") " END, "
      "valid_until = CASE WHEN $6::bigint IS NULL THEN valid_until ELSE " AT("$6") " END, "
      "auto_activate_at = CASE WHEN $7::bigint IS NULL THEN auto_activate_at ELSE " AT("$7") " END, "
      "refund_percent = COALESCE($8::int, refund_percent), refund_amount = COALESCE($9::int, refund_amount), "
      "cancel_reason = COALESCE($10, cancel_reason), payment_id = COALESCE($11, payment_id), "
      "qr_token = COALESCE($12, qr_token), qr_kid = COALESCE($13, qr_kid) "
      "WHERE ticket_id = $1::uuid AND status = $2 AND version = $3::int RETURNING " COLUMNS,
      13, params);
  if (!rpc_ok(st)) return st;
  *applied = PQntuples(r) == 1;
  if (!*applied) return RPC_OK;
  return row_at(ctx, r, 0, out);
}

rpc_status tk_ticket_gate_update(rpc_ctx *ctx, const tk_row *row, const tk_gate_change *c, bool *applied,
                                 tk_row **out) {
  const char *params[] = {row->ticket->ticket_id,
                          tk_status_name(row->status),
                          int_text(ctx, row->version),
                          tk_status_name(c->to),
                          c->inside ? "true" : "false",
                          c->entry_station_id,
                          us_or_null(ctx, c->entry_at_us),
                          int_text(ctx, c->journeys_completed),
                          us_or_null(ctx, c->last_tap_us),
                          c->last_rotating_counter ? int_text(ctx, c->last_rotating_counter) : NULL,
                          us_or_null(ctx, c->valid_from_us),
                          us_or_null(ctx, c->valid_until_us),
                          c->tapped ? "true" : "false",
                          c->recent_tap_us,
                          c->accept_gate,
                          c->accept_gate ? (c->accept_exit ? "exit" : "entry") : NULL,
                          c->accept_gate ? int_text(ctx, c->accept_us) : NULL};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "UPDATE tickets SET status = $4, version = version + 1, updated_at = now(), inside = $5::boolean, "
      "entry_station_id = COALESCE($6, entry_station_id), "
      "entry_at = CASE WHEN $7::bigint IS NULL THEN entry_at ELSE " AT("$7") " END, "
      "journeys_completed = $8::int, "
      "last_tap_at = CASE WHEN $9::bigint IS NULL THEN last_tap_at ELSE " AT("$9") " END, "
      "last_rotating_counter = COALESCE($10::bigint, last_rotating_counter), "
      "valid_from = CASE WHEN $11::bigint IS NULL THEN valid_from ELSE " AT("$11") " END, "
      "valid_until = CASE WHEN $12::bigint IS NULL THEN valid_until ELSE " AT("$12") " END, "
      "tapped = tapped OR $13::boolean, recent_tap_us = COALESCE($14::bigint[], recent_tap_us), "
      "last_accept_gate = COALESCE($15, last_accept_gate), "
      "last_accept_direction = COALESCE($16, last_accept_direction), "
      "last_accept_at = CASE WHEN $17::bigint IS NULL THEN last_accept_at ELSE " AT("$17") " END "
      "WHERE ticket_id = $1::uuid AND status = $2 AND version = $3::int RETURNING " COLUMNS,
      17, params);
  if (!rpc_ok(st)) return st;
  *applied = PQntuples(r) == 1;
  if (!*applied) return RPC_OK;
  return row_at(ctx, r, 0, out);
}
