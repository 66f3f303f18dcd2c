/* Refunds and the ticket side of the saga (domain spec §12.2 steps 4-5): a cancelled or
 * expired ticket closes its open payment; a paid one cancelled with a refund goes to
 * REFUND_PENDING, and each attempt at the provider either refunds it or schedules a retry. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/payment/payment.h"

static const pm_status OPEN[] = {PM_PENDING, PM_APPROVED};

static rpc_status close_open_payment(rpc_ctx *ctx, pm_row *row, const char *why) {
  pm_change c = {.to = PM_CANCELLED, .failure_reason = why, .paid_amount = -1};
  bool won;
  rpc_status st = pm_transition(ctx, row, OPEN, 2, &c, &won);
  if (!rpc_ok(st) || !won) return st;
  /* Neither provider can void an order nobody paid: VNPay has no cancel call and an
   * uncaptured PayPal CAPTURE order simply lapses. Money that still arrives is refunded. */
  log_info("payment %s cancelled (%s); nothing to void at %s", row->p->payment_id, why, row->p->method);
  return pm_publish_status(ctx, row, why);
}

rpc_status pm_on_ticket_expired(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketExpired *t = (const void *)ev->data;
  if (strcmp(t->reason, "payment_timeout") != 0) return RPC_OK;
  pm_row *row;
  rpc_status st = pm_find(ctx, "ticket_id", t->ticket_id, true, &row);
  if (!rpc_ok(st) || !row) return st;
  return close_open_payment(ctx, row, "payment_timeout");
}

rpc_status pm_on_ticket_cancelled(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketCancelled *t = (const void *)ev->data;
  pm_row *row;
  rpc_status st = pm_find(ctx, "ticket_id", t->ticket_id, true, &row);
  if (!rpc_ok(st) || !row) return st;
  if (row->status == PM_PENDING || row->status == PM_APPROVED)
    return close_open_payment(ctx, row, "ticket_cancelled");
  if (row->status != PM_COMPLETED || t->refund_amount <= 0 || row->p->amount == 0) return RPC_OK;
  static const pm_status from[] = {PM_COMPLETED};
  pm_change c = {.to = PM_REFUND_PENDING, .paid_amount = -1,
                 .refund_amount = t->refund_amount < row->p->amount ? t->refund_amount : row->p->amount,
                 .refund_reason = "cancellation"};
  bool won;
  return pm_transition(ctx, row, from, 1, &c, &won);
}

/* ---- one attempt at the provider ---- */

typedef enum { REFUND_DONE, REFUND_RETRY, REFUND_REFUSED, REFUND_MANUAL, REFUND_AWAITING } refund_result;

static refund_result refund_vnpay(rpc_ctx *ctx, const pm_row *row, char *error, size_t cap) {
  const pm_settings *cfg = pm_cfg(ctx);
  if (!cfg->vnpay_refund_api || !*cfg->vnpay_api_url) return REFUND_MANUAL;
  unsigned char nonce[16];
  char request_id[33];
  crypto_random_bytes(nonce, sizeof nonce);
  crypto_hex(nonce, sizeof nonce, request_id);
  pay_vnpay_refund_request req = {
      .tmn_code = cfg->vnpay_tmn_code,
      .hash_secret = cfg->vnpay_hash_secret,
      .request_id = request_id,
      .txn_ref = row->p->provider_ref,
      .transaction_no = *row->p->provider_transaction_id ? row->p->provider_transaction_id : NULL,
      .transaction_date = row->vnp_create_date,
      .create_by = "metro-payment",
      .ip_addr = cfg->server_ip,
      .order_info = arena_printf(ctx->arena, "Refund for ticket %s", row->p->ticket_id),
      .amount_vnd = row->p->refund_amount,
      .full = row->p->refund_amount == row->p->amount,
      .create_time = (int64_t)time(NULL),
  };
  pay_vnpay_refund_answer answer;
  papi_error err;
  papi_result res = papi_vnpay_refund(&pm_st(ctx)->vnpay_api, ctx->arena, &req, &answer, &err);
  if (res == PAPI_OK) return REFUND_DONE;
  snprintf(error, cap, "VNPay %.63s: %.255s", *err.code ? err.code : "error", err.message);
  return res == PAPI_UNAVAILABLE ? REFUND_RETRY : REFUND_REFUSED;
}

static refund_result refund_paypal(rpc_ctx *ctx, const pm_row *row, char *error, size_t cap) {
  papi_paypal *pp = pm_st(ctx)->paypal;
  if (!pp || !*row->p->provider_transaction_id) return REFUND_MANUAL;
  int64_t cents;
  if (pay_paypal_prorata_refund_cents(row->amount_usd_cents, row->p->amount, row->p->refund_amount, &cents) != PAY_OK)
    return snprintf(error, cap, "no USD amount to refund"), REFUND_REFUSED;
  char refund_id[PAY_PP_ID_LEN + 1];
  bool completed;
  papi_error err;
  papi_result res = papi_paypal_refund(pp, ctx->arena, row->p->provider_transaction_id, cents,
                                       arena_printf(ctx->arena, "refund-%s", row->p->payment_id), refund_id,
                                       &completed, &err);
  if (res == PAPI_OK) return completed ? REFUND_DONE : REFUND_AWAITING;
  snprintf(error, cap, "PayPal %.63s: %.255s", *err.code ? err.code : "error", err.message);
  return res == PAPI_UNAVAILABLE ? REFUND_RETRY : REFUND_REFUSED;
}

static rpc_status record_failure(rpc_ctx *ctx, const pm_row *row, refund_result res, const char *error,
                                 int *outcome) {
  const pm_settings *cfg = pm_cfg(ctx);
  const char *params[] = {row->p->payment_id, error, arena_printf(ctx->arena, "%lld", (long long)cfg->refund_retry_s),
                          arena_printf(ctx->arena, "%lld", (long long)cfg->refund_give_up_s),
                          res == REFUND_RETRY ? "f" : "t"};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "UPDATE payments SET refund_attempts = refund_attempts + 1, refund_error = $2, updated_at = now(), "
      "refund_given_up = $5::boolean OR now() >= refund_started_at + $4::bigint * interval '1 second', "
      "refund_next_at = now() + $3::bigint * interval '1 second' "
      "WHERE payment_id = $1::uuid RETURNING refund_given_up",
      5, params);
  if (!rpc_ok(st)) return st;
  bool given_up = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
  *outcome = given_up ? -1 : 0;
  if (!given_up) {
    log_warn("payment %s: refund failed, retrying later: %s", row->p->payment_id, error);
    return RPC_OK;
  }
  return pm_alert(ctx, "refund_failed", row->p->payment_id, "refund of %d VND for payment %s needs an admin: %s",
                  row->p->refund_amount, row->p->payment_id, error);
}

/* Sepay, or VNPay without its refund API: an admin refunds by hand and confirms. */
static rpc_status hand_to_admin(rpc_ctx *ctx, const pm_row *row, int *outcome) {
  *outcome = 2;
  const char *params[] = {row->p->payment_id};
  rpc_status st = pg_exec(ctx->arena, NULL,
                          "UPDATE payments SET refund_next_at = NULL, refund_error = 'manual refund required', "
                          "updated_at = now() WHERE payment_id = $1::uuid",
                          1, params);
  if (!rpc_ok(st)) return st;
  return pm_alert(ctx, "manual_refund", row->p->payment_id, "refund %d VND of %s payment %s by hand, then confirm it",
                  row->p->refund_amount, row->p->method, row->p->payment_id);
}

static rpc_status attempt_locked(rpc_ctx *ctx, pm_row *row, int *outcome) {
  char error[400] = "";
  refund_result res = strcmp(row->p->method, "vnpay") == 0    ? refund_vnpay(ctx, row, error, sizeof error)
                      : strcmp(row->p->method, "paypal") == 0 ? refund_paypal(ctx, row, error, sizeof error)
                                                              : REFUND_MANUAL;
  if (res == REFUND_MANUAL) return hand_to_admin(ctx, row, outcome);
  if (res == REFUND_AWAITING) { /* PayPal processes it; PAYMENT.CAPTURE.REFUNDED completes it */
    *outcome = 2;
    const char *params[] = {row->p->payment_id};
    return pg_exec(ctx->arena, NULL,
                   "UPDATE payments SET refund_next_at = NULL, refund_attempts = refund_attempts + 1, "
                   "refund_error = 'awaiting the provider', updated_at = now() WHERE payment_id = $1::uuid",
                   1, params);
  }
  if (res != REFUND_DONE) return record_failure(ctx, row, res, error, outcome);
  static const pm_status from[] = {PM_REFUND_PENDING};
  pm_change c = {.to = PM_REFUNDED, .paid_amount = -1};
  bool won;
  rpc_status st = pm_transition(ctx, row, from, 1, &c, &won);
  if (rpc_ok(st) && won) st = pm_publish_status(ctx, row, NULL);
  *outcome = 1;
  return st;
}

rpc_status pm_refund_attempt(rpc_ctx *ctx, const char *payment_id, int *outcome) {
  *outcome = 2;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  const char *params[] = {payment_id};
  PGresult *r;
  /* SKIP LOCKED: a refund another replica or the job is attempting right now is left to it. */
  st = pg_exec(ctx->arena, &r,
               "SELECT payment_id FROM payments WHERE payment_id = $1::uuid AND status = 'REFUND_PENDING' "
               "AND NOT refund_given_up FOR UPDATE SKIP LOCKED",
               1, params);
  pm_row *row = NULL;
  if (rpc_ok(st) && PQntuples(r) == 1) st = pm_find(ctx, "payment_id", payment_id, false, &row);
  if (rpc_ok(st) && row) st = attempt_locked(ctx, row, outcome);
  if (!rpc_ok(st)) {
    pg_rollback();
    return st;
  }
  st = pg_commit(ctx->arena);
  if (rpc_ok(st) && row) pm_metrics_refund(row->p->method, *outcome);
  return st;
}

rpc_status pm_refunds_due(rpc_ctx *ctx, int limit, bool include_retries, const char ***ids, int *n) {
  const char *params[] = {arena_printf(ctx->arena, "%d", limit), include_retries ? "t" : "f"};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT payment_id FROM payments WHERE status = 'REFUND_PENDING' AND NOT refund_given_up "
                          "AND refund_next_at <= now() AND ($2::boolean OR refund_attempts = 0) "
                          "ORDER BY refund_next_at LIMIT $1::int",
                          2, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *ids = arena_alloc(ctx->arena, sizeof **ids * (size_t)(*n ? *n : 1));
  for (int i = 0; i < *n; i++) (*ids)[i] = arena_strdup(ctx->arena, PQgetvalue(r, i, 0));
  return RPC_OK;
}
