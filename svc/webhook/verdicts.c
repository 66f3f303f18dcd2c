/* What a provider check concludes (accepted with its event, rejected with a reason, or not
 * checkable now), outcome names, the JSON error answers and the table of rejection reasons. */
#include <string.h>

#include "svc/webhook/webhook.h"

void wh_reject(wh_check *out, const char *reason, const char *event_type, wh_reply reply) {
  out->result = WH_REJECTED;
  out->reason = reason;
  out->event_type = event_type;
  out->reply = reply;
}

Metro__Events__V1__WebhookReceived *wh_accept(rpc_ctx *ctx, wh_check *out) {
  out->result = WH_ACCEPTED;
  out->msg = RPC_NEW(ctx, Metro__Events__V1__WebhookReceived, metro__events__v1__webhook_received__init);
  return out->msg;
}

wh_reply wh_json_error(rpc_ctx *ctx, int status, const char *code) {
  return (wh_reply){.status = status, .body = arena_printf(ctx->arena, "{\"error\":\"%s\"}", code)};
}

const char *wh_outcome_name(pay_outcome o) {
  switch (o) {
  case PAY_OUTCOME_COMPLETED: return "completed";
  case PAY_OUTCOME_CANCELLED: return "cancelled";
  case PAY_OUTCOME_APPROVED: return "approved";
  case PAY_OUTCOME_NONE: return "none";
  case PAY_OUTCOME_FAILED: break;
  }
  return "failed";
}

/* Every reason a callback is rejected for, and whether it had proved authentic first. */
static const struct {
  const char *reason;
  bool authentic;
} reasons[] = {
    {WH_REASON_INVALID_CHECKSUM, false},   /* VNPay: missing or wrong vnp_SecureHash */
    {WH_REASON_INVALID_FIELDS, false},     /* VNPay: malformed query, or bad fields (hash unknown) */
    {WH_REASON_TMN_CODE_MISMATCH, true},   /* VNPay: signed, but for another terminal */
    {WH_REASON_MISSING_HEADERS, false},    /* PayPal: a PAYPAL-* transmission header missing */
    {WH_REASON_MALFORMED_EVENT, false},    /* PayPal: the body is not an event */
    {WH_REASON_SIGNATURE_INVALID, false},  /* PayPal: verify-webhook-signature said no */
    {WH_REASON_UNAUTHORIZED, false},       /* Sepay: wrong or missing Apikey */
    {WH_REASON_MALFORMED_BODY, true},      /* Sepay: the key was right, the body is not a transfer */
    {WH_REASON_TOO_LARGE, false},          /* any: over WH_MAX_PAYLOAD, not read */
};

bool wh_reason_authentic(const char *reason) {
  for (size_t i = 0; reason && i < sizeof reasons / sizeof reasons[0]; i++)
    if (strcmp(reasons[i].reason, reason) == 0) return reasons[i].authentic;
  return false;
}
