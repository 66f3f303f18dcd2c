/* PayPal webhooks (domain spec §12.1): the five PAYPAL-* transmission headers and the raw event
 * checked through PayPal's verify-webhook-signature API, the event read into webhook.received. */
#include <string.h>

#include "common/log.h"
#include "svc/payment/providers/providers.h"
#include "svc/webhook/webhook.h"

static bool paypal_configured(const wh_state *s) { return s->paypal != NULL; }

static void reject_signature(rpc_ctx *ctx, wh_check *out, const char *reason, const char *event_type) {
  wh_reject(out, reason, event_type, wh_json_error(ctx, 400, "WEBHOOK_SIGNATURE_INVALID"));
}

static char *copy_or_empty(rpc_ctx *ctx, const char *s) { return arena_strdup(ctx->arena, s ? s : ""); }

/* The payment the event names: its custom_id (our payment id) or else its order. */
static void fill_event(rpc_ctx *ctx, const pay_paypal_event *ev, Metro__Events__V1__WebhookReceived *m) {
  m->provider_event_id = copy_or_empty(ctx, ev->event_id);
  m->event_type = copy_or_empty(ctx, ev->event_type_name);
  if (ev->custom_id[0]) {
    m->ref_kind = (char *)"payment_id";
    m->ref = copy_or_empty(ctx, ev->custom_id);
  } else {
    m->ref_kind = (char *)"order_id";
    m->ref = copy_or_empty(ctx, ev->order_id);
  }
  m->outcome =
      (char *)(ev->type == PAY_PP_EVENT_CAPTURE_REFUNDED ? "refunded" : wh_outcome_name(ev->outcome));
  m->amount = ev->amount_cents >= 0 ? ev->amount_cents : 0;
  m->currency = copy_or_empty(ctx, ev->currency);
  m->reason = copy_or_empty(ctx, ev->event_type_name);
  m->provider_transaction_id = copy_or_empty(ctx, ev->capture_id);
  m->order_id = copy_or_empty(ctx, ev->order_id);
}

static void paypal_check(rpc_ctx *ctx, const wh_inbound *in, wh_check *out) {
  /* Read before verifying only to refuse junk without asking PayPal; nothing is trusted until
   * the verification succeeded. */
  pay_paypal_event ev;
  bool parsed = pay_paypal_parse_event(in->raw, in->raw_len, &ev) == PAY_OK;
  const char *event_type = parsed ? arena_strdup(ctx->arena, ev.event_type_name) : NULL;
  pay_paypal_transmission t = {
      .auth_algo = wh_header(in, "paypal-auth-algo", WH_MAX_HEADER_VALUE),
      .cert_url = wh_header(in, "paypal-cert-url", WH_MAX_HEADER_VALUE),
      .transmission_id = wh_header(in, "paypal-transmission-id", WH_MAX_HEADER_VALUE),
      .transmission_sig = wh_header(in, "paypal-transmission-sig", WH_MAX_HEADER_VALUE),
      .transmission_time = wh_header(in, "paypal-transmission-time", WH_MAX_HEADER_VALUE),
  };
  if (!t.auth_algo || !*t.auth_algo || !t.cert_url || !*t.cert_url || !t.transmission_id || !*t.transmission_id ||
      !t.transmission_sig || !*t.transmission_sig || !t.transmission_time || !*t.transmission_time) {
    reject_signature(ctx, out, WH_REASON_MISSING_HEADERS, event_type);
    return;
  }
  if (!parsed) {
    reject_signature(ctx, out, WH_REASON_MALFORMED_EVENT, NULL);
    return;
  }

  bool verified = false;
  papi_error err;
  memset(&err, 0, sizeof err);
  papi_result rc =
      papi_paypal_verify_webhook(wh_st(ctx)->paypal, ctx->arena, &t, in->raw, in->raw_len, &verified, &err);
  if (rc != PAPI_OK) {
    /* PayPal down, or its API refused our request (our credentials or webhook id, a bad answer):
     * not the sender's fault; 503 so PayPal delivers again, nothing stored. */
    log_warn("paypal: verify-webhook-signature failed for event %s (result %d, http %ld, %s)", ev.event_id, (int)rc,
             err.http_status, err.code[0] ? err.code : "-");
    out->result = WH_UNAVAILABLE;
    out->reply = wh_json_error(ctx, 503, "VERIFICATION_UNAVAILABLE");
    return;
  }
  if (!verified) {
    reject_signature(ctx, out, WH_REASON_SIGNATURE_INVALID, event_type);
    return;
  }
  fill_event(ctx, &ev, wh_accept(ctx, out));
}

/* Any 2xx acknowledges; what payment made of it is payment's business. */
static wh_reply paypal_answer(const Metro__Payment__V1__ApplyCallbackResponse *applied, bool replay) {
  (void)replay;
  (void)applied;
  return (wh_reply){.status = 200, .body = "{}"};
}

const wh_provider wh_paypal = {
    .name = "paypal",
    .source = WH_FROM_BODY,
    .configured = paypal_configured,
    .check = paypal_check,
    .answer = paypal_answer,
};
