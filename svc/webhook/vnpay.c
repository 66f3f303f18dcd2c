/* VNPay IPN (domain spec §12.1): the signed query checked with the hash secret, its fields read
 * into webhook.received, and the {"RspCode","Message"} answer payment's verdict calls for. */
#include <string.h>

#include "svc/payment/providers/providers.h"
#include "svc/webhook/webhook.h"

static wh_reply ipn_reply(pay_vnpay_rsp rsp) {
  return (wh_reply){.status = 200, .body = pay_vnpay_ipn_answer(rsp), .code = pay_vnpay_rsp_code(rsp)};
}

static bool vnpay_configured(const wh_state *s) { return s->settings.vnpay_hash_secret[0] != '\0'; }

static void vnpay_check(rpc_ctx *ctx, const wh_inbound *in, wh_check *out) {
  const wh_settings *cfg = wh_cfg(ctx);
  pay_vnpay_callback cb;
  pay_result rc = pay_vnpay_verify_callback(ctx->arena, in->raw, cfg->vnpay_hash_secret, &cb);
  if (rc == PAY_ERR_SIGNATURE) {
    wh_reject(out, WH_REASON_INVALID_CHECKSUM, "ipn", ipn_reply(PAY_VNP_RSP_INVALID_CHECKSUM));
    return;
  }
  if (rc != PAY_OK) { /* a malformed query, or a good hash over missing or malformed fields */
    wh_reject(out, WH_REASON_INVALID_FIELDS, "ipn", ipn_reply(PAY_VNP_RSP_UNKNOWN_ERROR));
    return;
  }
  if (cfg->vnpay_tmn_code[0] && strcmp(cb.tmn_code, cfg->vnpay_tmn_code) != 0) {
    wh_reject(out, WH_REASON_TMN_CODE_MISMATCH, "ipn", ipn_reply(PAY_VNP_RSP_UNKNOWN_ERROR));
    return;
  }

  Metro__Events__V1__WebhookReceived *m = wh_accept(ctx, out);
  bool review;
  pay_outcome outcome = pay_vnpay_outcome(cb.response_code, cb.transaction_status, &review);
  m->provider_event_id = arena_printf(ctx->arena, "%s:%s", cb.txn_ref, cb.transaction_no);
  m->event_type = (char *)"ipn";
  m->ref_kind = (char *)"txn_ref";
  m->ref = arena_strdup(ctx->arena, cb.txn_ref);
  m->outcome = (char *)wh_outcome_name(outcome);
  m->review = review;
  m->amount = cb.amount_x100;
  m->currency = (char *)"VND";
  m->reason = arena_strdup(ctx->arena, cb.response_code);
  m->provider_transaction_id = arena_strdup(ctx->arena, cb.transaction_no);
}

/* The IPN answers payment may give (97 is ours alone: a checksum payment never sees). */
static const pay_vnpay_rsp payment_answers[] = {PAY_VNP_RSP_CONFIRM_SUCCESS, PAY_VNP_RSP_ORDER_NOT_FOUND,
                                                PAY_VNP_RSP_ALREADY_CONFIRMED, PAY_VNP_RSP_INVALID_AMOUNT,
                                                PAY_VNP_RSP_UNKNOWN_ERROR};

/* Payment's RspCode; 99 (VNPay retries) when payment did not answer or answered something else.
 * A replay (a delivery of an IPN stored before) that confirmed the payment is answered 02: the
 * order is confirmed by then. The first delivery keeps 00 even when the stored event reached
 * payment before this request's own call did. */
static wh_reply vnpay_answer(const Metro__Payment__V1__ApplyCallbackResponse *applied, bool replay) {
  for (size_t i = 0; applied && applied->vnpay_rsp_code && i < sizeof payment_answers / sizeof payment_answers[0]; i++)
    if (strcmp(applied->vnpay_rsp_code, pay_vnpay_rsp_code(payment_answers[i])) == 0)
      return ipn_reply(replay && payment_answers[i] == PAY_VNP_RSP_CONFIRM_SUCCESS ? PAY_VNP_RSP_ALREADY_CONFIRMED
                                                                                   : payment_answers[i]);
  return ipn_reply(PAY_VNP_RSP_UNKNOWN_ERROR);
}

const wh_provider wh_vnpay = {
    .name = "vnpay",
    .source = WH_FROM_QUERY,
    .configured = vnpay_configured,
    .check = vnpay_check,
    .answer = vnpay_answer,
};
