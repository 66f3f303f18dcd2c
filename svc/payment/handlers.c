/* The payment service's gRPC handlers and their table: a rider's ticket payment, the PayPal
 * capture after approval, the VNPay return page, the inline callback application, and the
 * rows that route to the admin module (admin.c). */
#include <jansson.h>
#include <string.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "metro/api/v1/http.pb-c.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/payment/payment.h"

static rpc_status payment_not_found(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "PAYMENT_NOT_FOUND", "no such payment");
}

static bool is_staff(const rpc_ctx *ctx) { return rpc_caller_has_role(ctx, "staff"); }

/* The payment if the caller may see it: staff see every one, a rider only their own (someone
 * else's is NOT_FOUND, like one that does not exist). A rider's view leaves out what only
 * staff act on. */
static rpc_status visible_payment(rpc_ctx *ctx, const char *by, const char *key, pm_row **out) {
  rpc_status st = pm_find(ctx, by, key, false, out);
  if (!rpc_ok(st)) return st;
  if (!*out) return payment_not_found(ctx);
  if (is_staff(ctx)) return RPC_OK;
  if (!ctx->caller.user_id || strcmp((*out)->p->user_id, ctx->caller.user_id) != 0) return payment_not_found(ctx);
  Metro__Payment__V1__Payment *p = (*out)->p;
  p->review_reason = p->refund_error = p->provider_transaction_id = "";
  return RPC_OK;
}

static rpc_status get_ticket_payment(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Payment__V1__GetTicketPaymentRequest *r = (const void *)msg;
  if (!crypto_uuid_valid(r->ticket_id)) return payment_not_found(ctx);
  pm_row *row;
  rpc_status st = visible_payment(ctx, "ticket_id", r->ticket_id, &row);
  if (rpc_ok(st)) *out = &row->p->base;
  return st;
}

static rpc_status capture_refusal(rpc_ctx *ctx, const papi_error *err) {
  if (strcmp(err->code, "ORDER_NOT_APPROVED") == 0)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PAYMENT_NOT_APPROVED",
                     "the buyer has not approved this payment at PayPal yet");
  return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PAYMENT_DECLINED", "PayPal declined the capture (%s)",
                   *err->code ? err->code : "refused");
}

static rpc_status capture_paypal(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Payment__V1__CapturePaypalPaymentRequest *r = (const void *)msg;
  if (!crypto_uuid_valid(r->payment_id)) return payment_not_found(ctx);
  pm_row *row;
  rpc_status st = visible_payment(ctx, "payment_id", r->payment_id, &row);
  if (!rpc_ok(st)) return st;
  if (strcmp(row->p->method, "paypal") != 0)
    return rpc_invalid(ctx->arena, "paymentId", "NOT_A_PAYPAL_PAYMENT", "this payment is not made with PayPal");
  if (row->status == PM_COMPLETED) return *out = &row->p->base, RPC_OK; /* captured before */
  if (row->status != PM_PENDING && row->status != PM_APPROVED)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PAYMENT_NOT_OPEN", "this payment is %s",
                     row->p->status);
  papi_paypal *pp = pm_st(ctx)->paypal;
  if (!pp || !*row->p->provider_ref)
    return rpc_error(ctx->arena, GRPC_STATUS_UNAVAILABLE, "PROVIDER_UNAVAILABLE", "PayPal is not available");
  /* A fresh PayPal-Request-Id per call: PayPal replays a request id's first answer, so one
   * reused after a refusal (not approved yet) would refuse forever. A second capture of the
   * same order is refused by PayPal itself (ORDER_ALREADY_CAPTURED, read back as the capture). */
  char request_id[CRYPTO_UUID_LEN + 1];
  crypto_uuid_v4(request_id);
  pay_paypal_capture capture;
  papi_error err;
  papi_result res = papi_paypal_capture(pp, ctx->arena, row->p->provider_ref, request_id, &capture, &err);
  if (res == PAPI_UNAVAILABLE)
    return rpc_error(ctx->arena, GRPC_STATUS_UNAVAILABLE, "PROVIDER_UNAVAILABLE", "PayPal did not answer; try again");
  if (res == PAPI_REJECTED) return capture_refusal(ctx, &err);
  if (res != PAPI_OK) return rpc_internal("payment: PayPal's capture answer does not parse");
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  if (rpc_ok(st = pm_find(ctx, "payment_id", r->payment_id, true, &row)) && row)
    st = pm_apply_paypal_capture(ctx, row, &capture);
  if (!rpc_ok(st)) return pg_rollback(), st;
  if (!rpc_ok(st = pg_commit(ctx->arena))) return st;
  st = visible_payment(ctx, "payment_id", r->payment_id, &row);
  if (rpc_ok(st)) *out = &row->p->base;
  return st;
}

/* ---- the VNPay return page: verifies and shows, never changes anything ---- */

static Metro__Api__V1__HttpResponse *json_answer(rpc_ctx *ctx, int status, json_t *body) {
  Metro__Api__V1__HttpResponse *resp = RPC_NEW(ctx, Metro__Api__V1__HttpResponse, metro__api__v1__http_response__init);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  resp->status = status;
  resp->content_type = "application/json";
  resp->body.data = (uint8_t *)arena_strdup(ctx->arena, text ? text : "{}");
  resp->body.len = strlen((char *)resp->body.data);
  free(text);
  return resp;
}

static const char *outcome_name(pay_outcome o) {
  return o == PAY_OUTCOME_COMPLETED ? "completed" : o == PAY_OUTCOME_CANCELLED ? "cancelled" : "failed";
}

static rpc_status vnpay_return(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Api__V1__HttpRequest *r = (const void *)msg;
  const pm_settings *cfg = pm_cfg(ctx);
  pay_vnpay_callback cb;
  if (!*cfg->vnpay_hash_secret ||
      pay_vnpay_verify_callback(ctx->arena, r->raw_query, cfg->vnpay_hash_secret, &cb) != PAY_OK) {
    *out = &json_answer(ctx, 400, json_pack("{s:b, s:s}", "verified", 0, "message",
                                            "This payment result is not signed by VNPay."))->base;
    return RPC_OK;
  }
  bool review;
  pay_outcome o = pay_vnpay_outcome(cb.response_code, cb.transaction_status, &review);
  pm_row *row;
  rpc_status st = pm_find(ctx, "vnpay", cb.txn_ref, false, &row);
  if (!rpc_ok(st)) return st;
  json_t *body = json_pack("{s:b, s:s, s:s, s:s}", "verified", 1, "responseCode", cb.response_code, "outcome",
                           outcome_name(o), "message",
                           o == PAY_OUTCOME_COMPLETED ? "Payment received. Your ticket is being activated."
                           : o == PAY_OUTCOME_CANCELLED ? "The payment was cancelled."
                                                        : "The payment did not go through.");
  if (row) {
    json_object_set_new(body, "paymentId", json_string(row->p->payment_id));
    json_object_set_new(body, "ticketId", json_string(row->p->ticket_id));
    json_object_set_new(body, "paymentStatus", json_string(row->p->status));
  }
  *out = &json_answer(ctx, row ? 200 : 404, body)->base;
  return RPC_OK;
}

/* ---- the webhook service hands over a stored callback ---- */

static rpc_status apply_callback(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  Metro__Payment__V1__ApplyCallbackResponse *v;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = pm_apply_callback(ctx, (const Metro__Events__V1__WebhookReceived *)msg, &v);
  if (!rpc_ok(st)) return pg_rollback(), st;
  st = pg_commit(ctx->arena);
  if (!rpc_ok(st)) return st;
  pm_metrics_callback(((const Metro__Events__V1__WebhookReceived *)msg)->provider, v->result);
  *out = &v->base;
  return RPC_OK;
}

static const rpc_method_impl methods[] = {
    {"GetTicketPayment", get_ticket_payment, 0},
    {"CapturePaypalPayment", capture_paypal, 30000},
    {"VnpayReturn", vnpay_return, 0},
    {"ListPayments", pm_list_payments, 0},
    {"GetPayment", pm_get_payment, 0},
    {"ListUnmatchedTransfers", pm_list_unmatched, 0},
    {"ConfirmRefund", pm_confirm_refund, 0},
    {"ResolveReview", pm_resolve_review, 0},
    {"RetryRefunds", pm_retry_refunds, 120000},
    {"ApplyCallback", apply_callback, 0},
};

const rpc_service_impl payment_service_impl = {
    .descriptor = &metro__payment__v1__payment_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};

const ev_subscription pm_subscriptions[] = {
    {"ticket.created", &metro__events__v1__ticket_created__descriptor, pm_on_ticket_created},
    {"ticket.expired", &metro__events__v1__ticket_expired__descriptor, pm_on_ticket_expired},
    {"ticket.cancelled", &metro__events__v1__ticket_cancelled__descriptor, pm_on_ticket_cancelled},
    {"webhook.received", &metro__events__v1__webhook_received__descriptor, pm_on_webhook_received},
};
const size_t pm_n_subscriptions = sizeof pm_subscriptions / sizeof pm_subscriptions[0];
