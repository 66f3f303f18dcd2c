/* The inline hand-over to payment: PaymentService.ApplyCallback with a signed "webhook" service
 * identity and its own deadline. When payment does not answer, webhook.received gets there later. */
#include "common/log.h"
#include "common/rpc_client.h"
#include "svc/webhook/webhook.h"

#define APPLY_METHOD "/metro.payment.v1.PaymentService/ApplyCallback"

const Metro__Payment__V1__ApplyCallbackResponse *wh_apply(rpc_ctx *ctx, const Metro__Events__V1__WebhookReceived *msg) {
  const wh_settings *cfg = wh_cfg(ctx);
  rpc_channel *ch = rpc_channel_get(cfg->payment_addr);
  if (!ch) {
    log_warn("%s: no channel to payment at %s; callback %s left to webhook.received", msg->provider,
             cfg->payment_addr, msg->provider_event_id);
    return NULL;
  }
  rpc_call_meta meta = rpc_meta_as_service(ctx, "webhook");
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(ch, ctx->arena, APPLY_METHOD, &meta, &msg->base,
                                 &metro__payment__v1__apply_callback_response__descriptor, &resp,
                                 (int)cfg->apply_timeout_ms, ctx->deadline_ms);
  if (!rpc_ok(st) || !resp) {
    log_warn("%s: ApplyCallback failed for %s (%s: %s); left to webhook.received", msg->provider,
             msg->provider_event_id, rpc_code_name(st.code), st.message ? st.message : "-");
    return NULL;
  }
  return (const Metro__Payment__V1__ApplyCallbackResponse *)resp;
}
