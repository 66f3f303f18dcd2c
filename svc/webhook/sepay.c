/* Sepay bank-transfer webhooks (domain spec §12.1): Authorization: Apikey checked in constant
 * time, the transfer read into webhook.received with the ticket UUID found in its content. */
#include <string.h>

#include "svc/payment/providers/providers.h"
#include "svc/webhook/webhook.h"

#define MAX_AUTHORIZATION 512

static const wh_reply refused_401 = {.status = 401, .body = "{\"success\":false}"};
static const wh_reply refused_400 = {.status = 400, .body = "{\"success\":false}"};

static bool sepay_configured(const wh_state *s) { return s->settings.sepay_api_key[0] != '\0'; }

static void sepay_check(rpc_ctx *ctx, const wh_inbound *in, wh_check *out) {
  if (!pay_sepay_check_auth(wh_header(in, "authorization", MAX_AUTHORIZATION), wh_cfg(ctx)->sepay_api_key)) {
    wh_reject(out, WH_REASON_UNAUTHORIZED, "transfer", refused_401);
    return;
  }
  pay_sepay_transfer t;
  if (pay_sepay_parse_webhook(in->raw, in->raw_len, &t) != PAY_OK) {
    wh_reject(out, WH_REASON_MALFORMED_BODY, "transfer", refused_400);
    return;
  }
  char ticket_id[PAY_SEPAY_UUID_LEN + 1];
  if (!pay_sepay_find_uuid(t.content, ticket_id)) ticket_id[0] = '\0';

  Metro__Events__V1__WebhookReceived *m = wh_accept(ctx, out);
  const char *id = arena_printf(ctx->arena, "%lld", (long long)t.id);
  m->provider_event_id = (char *)id;
  m->event_type = (char *)"transfer";
  m->ref_kind = (char *)"ticket_id";
  m->ref = arena_strdup(ctx->arena, ticket_id);
  m->outcome = (char *)(t.incoming ? "completed" : "none");
  m->amount = t.transfer_amount;
  m->currency = (char *)"VND";
  m->reason = (char *)"";
  m->provider_transaction_id = (char *)id;
  m->transfer_content = arena_strdup(ctx->arena, t.content);
  m->reference_code = arena_strdup(ctx->arena, t.reference_code);
  m->incoming = t.incoming;
}

/* Stored is acknowledged: duplicates, outgoing and unmatched transfers alike. */
static wh_reply sepay_answer(const Metro__Payment__V1__ApplyCallbackResponse *applied, bool replay) {
  (void)replay;
  (void)applied;
  return (wh_reply){.status = 200, .body = "{\"success\":true}"};
}

const wh_provider wh_sepay = {
    .name = "sepay",
    .source = WH_FROM_BODY,
    .configured = sepay_configured,
    .check = sepay_check,
    .answer = sepay_answer,
};
