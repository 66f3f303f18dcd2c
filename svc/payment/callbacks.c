/* Provider verdicts applied once (domain spec §12, §12.1): each verified callback claims its
 * (provider, providerEventId) row, finds its payment, checks the amount and moves the payment
 * with a conditional update; late money for a closed order is refunded, never completes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "svc/payment/payment.h"

typedef Metro__Events__V1__WebhookReceived callback;
typedef Metro__Payment__V1__ApplyCallbackResponse verdict;

static const pm_status OPEN[] = {PM_PENDING, PM_APPROVED};
static const pm_status CLOSED[] = {PM_FAILED, PM_CANCELLED};

static bool is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

/* The payment a callback names, locked; NULL when none. */
static rpc_status find_payment(rpc_ctx *ctx, const callback *cb, pm_row **row) {
  *row = NULL;
  const char *by = is(cb->ref_kind, "txn_ref")      ? "vnpay"
                   : is(cb->ref_kind, "payment_id") ? "payment_id"
                   : is(cb->ref_kind, "order_id")   ? "paypal"
                   : is(cb->ref_kind, "ticket_id")  ? "ticket_id"
                                                    : NULL;
  if (!by) return RPC_OK;
  rpc_status st = pm_find(ctx, by, cb->ref, true, row);
  if (rpc_ok(st) && *row && strcmp((*row)->p->method, cb->provider) != 0) *row = NULL; /* another method's */
  return st;
}

/* The amount the provider reports, in its unit, against the payment's. */
static bool amount_matches(const pm_row *row, const callback *cb) {
  if (is(cb->provider, "vnpay")) return is(cb->currency, "VND") && cb->amount == (int64_t)row->p->amount * 100;
  if (is(cb->provider, "paypal")) return is(cb->currency, "USD") && cb->amount == row->amount_usd_cents;
  return is(cb->currency, "VND") && cb->amount == row->p->amount;
}

/* The amounts of a mismatch in words an admin reads without knowing each provider's unit. */
static const char *reported_amount(rpc_ctx *ctx, const callback *cb) {
  if (is(cb->provider, "paypal")) {
    char usd[PAY_PP_MONEY_LEN];
    pay_paypal_format_cents(cb->amount >= 0 ? cb->amount : 0, usd);
    return arena_printf(ctx->arena, "%s %s", usd, *cb->currency ? cb->currency : "?");
  }
  if (is(cb->provider, "vnpay"))
    return arena_printf(ctx->arena, "vnp_Amount %lld (%lld.%02lld VND)", (long long)cb->amount,
                        (long long)(cb->amount / 100), (long long)(cb->amount % 100));
  return arena_printf(ctx->arena, "%lld VND", (long long)cb->amount);
}

static const char *expected_amount(rpc_ctx *ctx, const pm_row *row, const callback *cb) {
  if (is(cb->provider, "paypal")) {
    char usd[PAY_PP_MONEY_LEN];
    pay_paypal_format_cents(row->amount_usd_cents, usd);
    return arena_printf(ctx->arena, "%s USD (%d VND)", usd, row->p->amount);
  }
  return arena_printf(ctx->arena, "%d VND", row->p->amount);
}

static rpc_status keep_unmatched(rpc_ctx *ctx, const callback *cb, const char *reason) {
  if (!is(cb->provider, "sepay")) return RPC_OK;
  const char *params[] = {cb->provider,
                          cb->provider_event_id,
                          arena_printf(ctx->arena, "%lld", (long long)cb->amount),
                          cb->transfer_content ? cb->transfer_content : "",
                          *cb->reference_code ? cb->reference_code : NULL,
                          crypto_uuid_valid(cb->ref) ? cb->ref : NULL,
                          reason};
  log_warn("payment: unmatched %s transfer %s (%s)", cb->provider, cb->provider_event_id, reason);
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO unmatched_transfers (provider, transfer_id, amount, content, reference_code, ticket_id, "
                 "reason) VALUES ($1, $2, $3::bigint, $4, $5, $6::uuid, $7) ON CONFLICT DO NOTHING",
                 7, params);
}

static rpc_status move(rpc_ctx *ctx, pm_row *row, const pm_status *from, int n_from, const pm_change *c,
                       const char *reason, bool *won) {
  rpc_status st = pm_transition(ctx, row, from, n_from, c, won);
  if (!rpc_ok(st) || !*won) return st;
  return pm_publish_status(ctx, row, reason);
}

/* Money arrived: complete an open payment, refund a closed one (§12 late payment). */
static rpc_status on_paid(rpc_ctx *ctx, pm_row *row, const callback *cb, verdict *v) {
  bool won;
  pm_change done = {.to = PM_COMPLETED, .provider_txn_id = cb->provider_transaction_id, .paid_amount = cb->amount,
                    .set_review = cb->review,
                    .review_reason = cb->review ? "the provider reported the payment as suspicious (07)" : NULL};
  rpc_status st = move(ctx, row, OPEN, 2, &done, NULL, &won);
  if (!rpc_ok(st)) return st;
  if (won) {
    v->result = "APPLIED";
    v->vnpay_rsp_code = "00";
    if (cb->review)
      st = pm_alert(ctx, "payment_suspicious", row->p->payment_id, "payment %s completed but flagged by %s (07)",
                    row->p->payment_id, cb->provider);
    return st;
  }
  pm_change late = {.to = PM_REFUND_PENDING, .provider_txn_id = cb->provider_transaction_id,
                    .paid_amount = cb->amount, .refund_amount = row->p->amount, .refund_reason = "late_payment"};
  st = move(ctx, row, CLOSED, 2, &late, NULL, &won);
  if (!rpc_ok(st)) return st;
  v->vnpay_rsp_code = "02";
  if (won) {
    v->result = "LATE_PAYMENT";
    log_warn("payment %s: money arrived after the order closed; refunding %d VND", row->p->payment_id,
             row->p->amount);
    return RPC_OK;
  }
  /* Paid again for a payment already paid: staff settle it. */
  v->result = "NO_CHANGE";
  if (cb->provider_transaction_id && *cb->provider_transaction_id &&
      strcmp(cb->provider_transaction_id, row->p->provider_transaction_id) != 0)
    return keep_unmatched(ctx, cb, "PAYMENT_CLOSED");
  return RPC_OK;
}

static rpc_status on_verdict(rpc_ctx *ctx, pm_row *row, const callback *cb, verdict *v) {
  bool won = false;
  rpc_status st = RPC_OK;
  v->result = "NO_CHANGE";
  v->vnpay_rsp_code = "02";
  if (is(cb->outcome, "approved")) {
    static const pm_status from[] = {PM_PENDING};
    pm_change c = {.to = PM_APPROVED, .provider_txn_id = cb->provider_transaction_id, .paid_amount = -1};
    st = move(ctx, row, from, 1, &c, NULL, &won);
  } else if (is(cb->outcome, "failed") || is(cb->outcome, "cancelled")) {
    pm_change c = {.to = is(cb->outcome, "failed") ? PM_FAILED : PM_CANCELLED, .failure_reason = cb->reason,
                   .paid_amount = -1};
    st = move(ctx, row, OPEN, 2, &c, cb->reason, &won);
  } else if (is(cb->outcome, "refunded")) {
    static const pm_status from[] = {PM_REFUND_PENDING};
    pm_change c = {.to = PM_REFUNDED, .paid_amount = -1};
    st = move(ctx, row, from, 1, &c, NULL, &won);
  }
  if (won) v->result = "APPLIED", v->vnpay_rsp_code = "00";
  return st;
}

static rpc_status decide(rpc_ctx *ctx, const callback *cb, verdict *v) {
  bool paid = is(cb->outcome, "completed");
  if (is(cb->provider, "sepay") && !cb->incoming) return v->result = "NO_CHANGE", RPC_OK;
  pm_row *row;
  rpc_status st = find_payment(ctx, cb, &row);
  if (!rpc_ok(st)) return st;
  if (!row) {
    v->result = "NOT_FOUND";
    v->vnpay_rsp_code = "01";
    return paid ? keep_unmatched(ctx, cb, *cb->ref ? "UNKNOWN_TICKET" : "NO_TICKET_IN_CONTENT") : RPC_OK;
  }
  v->payment_id = row->p->payment_id;
  bool money = paid || is(cb->outcome, "approved");
  if ((money || is(cb->provider, "vnpay")) && cb->amount >= 0 && !amount_matches(row, cb)) {
    v->result = "AMOUNT_MISMATCH";
    v->vnpay_rsp_code = "04";
    v->status = row->p->status;
    if (!money) return RPC_OK;
    const char *why = arena_printf(ctx->arena, "%s reported %s, expected %s", cb->provider,
                                   reported_amount(ctx, cb), expected_amount(ctx, row, cb));
    st = pm_flag_review(ctx, row, why);
    if (rpc_ok(st) && paid) st = keep_unmatched(ctx, cb, "AMOUNT_MISMATCH");
    return st;
  }
  st = paid ? on_paid(ctx, row, cb, v) : on_verdict(ctx, row, cb, v);
  v->status = row->p->status;
  return st;
}

static rpc_status check_callback(rpc_ctx *ctx, const callback *cb) {
  if (!is(cb->provider, "vnpay") && !is(cb->provider, "paypal") && !is(cb->provider, "sepay"))
    return rpc_invalid(ctx->arena, "provider", "INVALID_CALLBACK", "provider must be vnpay, paypal or sepay");
  if (!cb->provider_event_id || !*cb->provider_event_id || strlen(cb->provider_event_id) > 200)
    return rpc_invalid(ctx->arena, "providerEventId", "INVALID_CALLBACK", "providerEventId must be 1-200 characters");
  if (!cb->ref || strlen(cb->ref) > 128 || !cb->outcome || !cb->currency || !cb->reason ||
      !cb->provider_transaction_id || strlen(cb->provider_transaction_id) > 128)
    return rpc_invalid(ctx->arena, "ref", "INVALID_CALLBACK", "the callback's reference fields are out of bounds");
  return RPC_OK;
}

rpc_status pm_apply_callback(rpc_ctx *ctx, const callback *cb, verdict **out) {
  rpc_status st = check_callback(ctx, cb);
  if (!rpc_ok(st)) return st;
  verdict *v = RPC_NEW(ctx, Metro__Payment__V1__ApplyCallbackResponse, metro__payment__v1__apply_callback_response__init);
  *out = v;
  const char *key[] = {cb->provider, cb->provider_event_id};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "INSERT INTO applied_callbacks (provider, provider_event_id, result) VALUES ($1, $2, 'APPLYING') "
               "ON CONFLICT DO NOTHING RETURNING 1",
               2, key);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) { /* applied before: answer as then (the webhook service tells a replay
                            * from a first delivery), without applying again */
    st = pg_exec(ctx->arena, &r,
                 "SELECT a.result, coalesce(a.vnpay_rsp_code, ''), coalesce(a.payment_id::text, ''), "
                 "coalesce(p.status, '') FROM applied_callbacks a LEFT JOIN payments p USING (payment_id) "
                 "WHERE a.provider = $1 AND a.provider_event_id = $2",
                 2, key);
    if (!rpc_ok(st)) return st;
    v->result = "DUPLICATE";
    if (PQntuples(r) == 1) {
      v->vnpay_rsp_code = arena_strdup(ctx->arena, PQgetvalue(r, 0, 1));
      v->payment_id = arena_strdup(ctx->arena, PQgetvalue(r, 0, 2));
      v->status = arena_strdup(ctx->arena, PQgetvalue(r, 0, 3));
    }
    return RPC_OK;
  }
  st = decide(ctx, cb, v);
  if (!rpc_ok(st)) return st;
  const char *params[] = {cb->provider, cb->provider_event_id, v->result,
                          is(cb->provider, "vnpay") ? v->vnpay_rsp_code : NULL,
                          *v->payment_id ? v->payment_id : NULL};
  st = pg_exec(ctx->arena, NULL,
               "UPDATE applied_callbacks SET result = $3, vnpay_rsp_code = $4, payment_id = $5::uuid "
               "WHERE provider = $1 AND provider_event_id = $2",
               5, params);
  if (rpc_ok(st))
    log_info("payment: %s callback %s -> %s (%s)", cb->provider, cb->provider_event_id, v->result,
             *v->payment_id ? v->payment_id : "no payment");
  return st;
}

rpc_status pm_on_webhook_received(rpc_ctx *ctx, const ev_event *ev) {
  verdict *v;
  return pm_apply_callback(ctx, (const callback *)ev->data, &v);
}

rpc_status pm_apply_paypal_capture(rpc_ctx *ctx, pm_row *row, const pay_paypal_capture *c) {
  pay_outcome o = pay_paypal_capture_outcome(c->capture_status);
  callback cb = METRO__EVENTS__V1__WEBHOOK_RECEIVED__INIT;
  cb.provider = "paypal";
  cb.provider_event_id = arena_printf(ctx->arena, "capture:%s:%s", c->capture_id, c->capture_status);
  cb.event_type = "capture";
  cb.ref_kind = "payment_id";
  cb.ref = row->p->payment_id;
  cb.outcome = o == PAY_OUTCOME_COMPLETED ? "completed" : o == PAY_OUTCOME_APPROVED ? "approved" : "failed";
  cb.amount = c->amount_cents;
  cb.currency = (char *)c->currency;
  cb.reason = arena_printf(ctx->arena, "CAPTURE_%s", c->capture_status);
  cb.provider_transaction_id = (char *)c->capture_id;
  cb.order_id = (char *)c->order_id;
  verdict *v;
  return pm_apply_callback(ctx, &cb, &v);
}
