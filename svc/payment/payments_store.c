/* The payments table: reading rows into the API message, the conditional status changes
 * (WHERE status IN ...) that let each move win at most once, their events, and the admin list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/page_token.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "common/text.h"
#include "metro/events/v1/payment_events.pb-c.h"
#include "svc/payment/payment.h"

static const char *const status_names[PM_N_STATUS] = {"PENDING",   "APPROVED",       "COMPLETED", "FAILED",
                                                      "CANCELLED", "REFUND_PENDING", "REFUNDED"};

const char *pm_status_name(pm_status s) { return (unsigned)s < PM_N_STATUS ? status_names[s] : "UNKNOWN"; }

bool pm_status_parse(const char *s, pm_status *out) {
  for (int i = 0; s && i < PM_N_STATUS; i++)
    if (strcmp(s, status_names[i]) == 0) return *out = (pm_status)i, true;
  return false;
}

#define COLUMNS                                                                                                    \
  "payment_id, ticket_id, passenger_id, user_id, amount, currency, method, status, provider_ref, provider_txn_id, " \
  "payment_url, approve_url, qr_image_url, " SQL_US("expires_at") ", amount_usd_cents, vnd_per_usd, "             \
  "refund_amount, refund_reason, refund_attempts, refund_error, review_required, review_reason, failure_reason, " \
  SQL_US("created_at") ", " SQL_US("updated_at") ", " SQL_US("completed_at") ", " SQL_US("refunded_at") ", "      \
  "vnp_create_date, version"

static char *text_or_empty(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return arena_strdup(ctx->arena, v ? v : "");
}

static int64_t int_or_zero(const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return v ? atoll(v) : 0;
}

static pm_row *row_at(rpc_ctx *ctx, const PGresult *r, int i) {
  pm_row *row = arena_alloc(ctx->arena, sizeof *row);
  memset(row, 0, sizeof *row);
  Metro__Payment__V1__Payment *p = RPC_NEW(ctx, Metro__Payment__V1__Payment, metro__payment__v1__payment__init);
  int c = 0;
  p->payment_id = text_or_empty(ctx, r, i, c++);
  p->ticket_id = text_or_empty(ctx, r, i, c++);
  p->passenger_id = text_or_empty(ctx, r, i, c++);
  p->user_id = text_or_empty(ctx, r, i, c++);
  p->amount = (int32_t)int_or_zero(r, i, c++);
  p->currency = text_or_empty(ctx, r, i, c++);
  p->method = text_or_empty(ctx, r, i, c++);
  p->status = text_or_empty(ctx, r, i, c++);
  pm_status_parse(p->status, &row->status);
  p->provider_ref = text_or_empty(ctx, r, i, c++);
  p->provider_transaction_id = text_or_empty(ctx, r, i, c++);
  p->payment_url = text_or_empty(ctx, r, i, c++);
  p->approve_url = text_or_empty(ctx, r, i, c++);
  p->qr_image_url = text_or_empty(ctx, r, i, c++);
  p->expires_at = pb_timestamp(ctx, int_or_zero(r, i, c++));
  row->amount_usd_cents = int_or_zero(r, i, c++);
  p->vnd_per_usd = (int32_t)int_or_zero(r, i, c++);
  if (row->amount_usd_cents > 0) {
    char usd[PAY_PP_MONEY_LEN];
    pay_paypal_format_cents(row->amount_usd_cents, usd);
    p->amount_usd = arena_strdup(ctx->arena, usd);
  }
  p->refund_amount = (int32_t)int_or_zero(r, i, c++);
  p->refund_reason = text_or_empty(ctx, r, i, c++);
  p->refund_attempts = (int32_t)int_or_zero(r, i, c++);
  p->refund_error = text_or_empty(ctx, r, i, c++);
  p->review_required = strcmp(PQgetvalue(r, i, c++), "t") == 0;
  p->review_reason = text_or_empty(ctx, r, i, c++);
  p->failure_reason = text_or_empty(ctx, r, i, c++);
  p->created_at = pb_timestamp(ctx, int_or_zero(r, i, c++));
  p->updated_at = pb_timestamp(ctx, int_or_zero(r, i, c++));
  p->completed_at = pb_timestamp(ctx, int_or_zero(r, i, c++));
  p->refunded_at = pb_timestamp(ctx, int_or_zero(r, i, c++));
  row->vnp_create_date = text_or_empty(ctx, r, i, c++);
  row->version = (int)int_or_zero(r, i, c++);
  row->p = p;
  return row;
}

/* One statement per lookup key (each a literal, so each is prepared once). */
static const struct finder {
  const char *by;
  const char *sql, *sql_locked;
} finders[] = {
    {"payment_id", "SELECT " COLUMNS " FROM payments WHERE payment_id = $1::uuid",
     "SELECT " COLUMNS " FROM payments WHERE payment_id = $1::uuid FOR UPDATE"},
    {"ticket_id", "SELECT " COLUMNS " FROM payments WHERE ticket_id = $1::uuid",
     "SELECT " COLUMNS " FROM payments WHERE ticket_id = $1::uuid FOR UPDATE"},
    {"vnpay", "SELECT " COLUMNS " FROM payments WHERE method = 'vnpay' AND provider_ref = $1",
     "SELECT " COLUMNS " FROM payments WHERE method = 'vnpay' AND provider_ref = $1 FOR UPDATE"},
    {"paypal", "SELECT " COLUMNS " FROM payments WHERE method = 'paypal' AND provider_ref = $1",
     "SELECT " COLUMNS " FROM payments WHERE method = 'paypal' AND provider_ref = $1 FOR UPDATE"},
};

rpc_status pm_find(rpc_ctx *ctx, const char *by, const char *key, bool lock, pm_row **out) {
  *out = NULL;
  bool uuid_key = strcmp(by, "payment_id") == 0 || strcmp(by, "ticket_id") == 0;
  if (!key || !*key || strlen(key) > 128 || (uuid_key && !crypto_uuid_valid(key))) return RPC_OK;
  for (size_t i = 0; i < sizeof finders / sizeof finders[0]; i++) {
    if (strcmp(finders[i].by, by) != 0) continue;
    const char *params[] = {key};
    PGresult *r;
    rpc_status st = pg_exec(ctx->arena, &r, lock ? finders[i].sql_locked : finders[i].sql, 1, params);
    if (!rpc_ok(st)) return st;
    if (PQntuples(r) == 1) *out = row_at(ctx, r, 0);
    return RPC_OK;
  }
  return rpc_internal("payment: unknown lookup");
}

static const char *int_text(rpc_ctx *ctx, int64_t v) { return arena_printf(ctx->arena, "%lld", (long long)v); }

rpc_status pm_transition(rpc_ctx *ctx, pm_row *row, const pm_status *from, int n_from, const pm_change *c,
                         bool *won) {
  *won = false;
  const char *from_list = "{";
  for (int i = 0; i < n_from; i++)
    from_list = arena_printf(ctx->arena, "%s%s%s", from_list, i ? "," : "", pm_status_name(from[i]));
  from_list = arena_printf(ctx->arena, "%s}", from_list);
  const char *params[] = {row->p->payment_id,
                          from_list,
                          pm_status_name(c->to),
                          c->failure_reason,
                          c->provider_txn_id,
                          c->paid_amount >= 0 ? int_text(ctx, c->paid_amount) : NULL,
                          c->set_review ? "t" : "f",
                          c->review_reason,
                          c->to == PM_REFUND_PENDING ? int_text(ctx, c->refund_amount) : NULL,
                          c->refund_reason};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "UPDATE payments SET status = $3, version = version + 1, updated_at = now(), "
      "failure_reason = coalesce($4, failure_reason), provider_txn_id = coalesce($5, provider_txn_id), "
      "paid_amount = coalesce($6::bigint, paid_amount), "
      "review_required = review_required OR $7::boolean, review_reason = coalesce($8, review_reason), "
      "completed_at = CASE WHEN $3 = 'COMPLETED' THEN now() ELSE completed_at END, "
      "refunded_at = CASE WHEN $3 = 'REFUNDED' THEN now() ELSE refunded_at END, "
      "refund_amount = coalesce($9::int, refund_amount), refund_reason = coalesce($10, refund_reason), "
      "refund_started_at = CASE WHEN $3 = 'REFUND_PENDING' THEN now() ELSE refund_started_at END, "
      "refund_next_at = CASE WHEN $3 = 'REFUND_PENDING' THEN now() ELSE refund_next_at END "
      "WHERE payment_id = $1::uuid AND status = ANY($2::text[]) RETURNING " COLUMNS,
      10, params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) != 1) return RPC_OK;
  *row = *row_at(ctx, r, 0);
  *won = true;
  return RPC_OK;
}

rpc_status pm_flag_review(rpc_ctx *ctx, pm_row *row, const char *reason) {
  const char *params[] = {row->p->payment_id, reason};
  rpc_status st = pg_exec(ctx->arena, NULL,
                          "UPDATE payments SET review_required = true, review_reason = $2, updated_at = now(), "
                          "version = version + 1 WHERE payment_id = $1::uuid",
                          2, params);
  if (!rpc_ok(st)) return st;
  row->p->review_required = true;
  row->p->review_reason = (char *)reason;
  return pm_alert(ctx, "payment_review", row->p->payment_id, "payment %s needs review: %s", row->p->payment_id,
                  reason);
}

rpc_status pm_publish_status(rpc_ctx *ctx, const pm_row *row, const char *reason) {
  const Metro__Payment__V1__Payment *p = row->p;
  const char *type = row->status == PM_COMPLETED   ? "payment.completed"
                     : row->status == PM_FAILED    ? "payment.failed"
                     : row->status == PM_CANCELLED ? "payment.cancelled"
                     : row->status == PM_REFUNDED  ? "payment.refunded"
                                                   : NULL;
  if (!type || strcmp(p->method, "free") == 0) return RPC_OK;
  pm_metrics_outcome(p->method, row->status); /* with its event, in the transaction that decides it */
  if (row->status == PM_REFUNDED) {
    Metro__Events__V1__PaymentRefunded ev = METRO__EVENTS__V1__PAYMENT_REFUNDED__INIT;
    ev.payment_id = p->payment_id;
    ev.ticket_id = p->ticket_id;
    ev.refund_amount = p->refund_amount;
    ev.reason = p->refund_reason;
    ev.user_id = p->user_id;
    return ev_publish(ctx->arena, type, p->ticket_id, &ev.base, ctx->traceparent);
  }
  Metro__Events__V1__PaymentOutcome ev = METRO__EVENTS__V1__PAYMENT_OUTCOME__INIT;
  ev.payment_id = p->payment_id;
  ev.ticket_id = p->ticket_id;
  ev.amount = p->amount;
  ev.reason = (char *)(reason ? reason : "");
  ev.method = p->method;
  return ev_publish(ctx->arena, type, p->ticket_id, &ev.base, ctx->traceparent);
}

/* ---- the admin list ---- */

rpc_status pm_list(rpc_ctx *ctx, const Metro__Payment__V1__ListPaymentsRequest *q,
                   Metro__Payment__V1__ListPaymentsResponse **out) {
  enum { DEFAULT_PAGE = 20, MAX_PAGE = 100 };
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "pay", q->page_size, q->page_token, DEFAULT_PAGE, MAX_PAGE, &cur);
  if (!rpc_ok(st)) return st;
  pm_status status;
  if (*q->status && !pm_status_parse(q->status, &status))
    return rpc_invalid(ctx->arena, "status", "INVALID_STATUS", "status must be one of PENDING, APPROVED, COMPLETED, "
                       "FAILED, CANCELLED, REFUND_PENDING, REFUNDED");
  if (*q->method && strcmp(q->method, "vnpay") && strcmp(q->method, "paypal") && strcmp(q->method, "sepay") &&
      strcmp(q->method, "free"))
    return rpc_invalid(ctx->arena, "method", "INVALID_METHOD", "method must be vnpay, paypal, sepay or free");
  if (*q->ticket_id && !crypto_uuid_valid(q->ticket_id))
    return rpc_invalid(ctx->arena, "ticketId", "INVALID_ID", "ticketId must be a UUID");
  if (*q->passenger_id && !crypto_uuid_valid(q->passenger_id))
    return rpc_invalid(ctx->arena, "passengerId", "INVALID_ID", "passengerId must be a UUID");
  const char *params[] = {*q->status ? q->status : NULL,
                          *q->method ? q->method : NULL,
                          *q->ticket_id ? q->ticket_id : NULL,
                          *q->passenger_id ? q->passenger_id : NULL,
                          q->review_required ? "t" : NULL,
                          cur.after_us,
                          cur.after_id,
                          int_text(ctx, cur.page_size + 1)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "SELECT " COLUMNS " FROM payments WHERE ($1::text IS NULL OR status = $1) "
               "AND ($2::text IS NULL OR method = $2) AND ($3::uuid IS NULL OR ticket_id = $3::uuid) "
               "AND ($4::uuid IS NULL OR passenger_id = $4::uuid) AND ($5::boolean IS NULL OR review_required) "
               "AND ($6::bigint IS NULL OR (created_at, payment_id) < (" SQL_AT("$6") ", $7::uuid)) "
               "ORDER BY created_at DESC, payment_id DESC LIMIT $8::int",
               8, params);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r), shown = n > cur.page_size ? cur.page_size : n;
  Metro__Payment__V1__ListPaymentsResponse *resp =
      RPC_NEW(ctx, Metro__Payment__V1__ListPaymentsResponse, metro__payment__v1__list_payments_response__init);
  resp->payments = arena_alloc(ctx->arena, sizeof *resp->payments * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) resp->payments[resp->n_payments++] = row_at(ctx, r, i)->p;
  resp->next_page_token =
      (char *)(n > cur.page_size
                   ? page_token_make(ctx, "pay", pb_timestamp_us(resp->payments[shown - 1]->created_at),
                                     resp->payments[shown - 1]->payment_id)
                   : "");
  *out = resp;
  return RPC_OK;
}
