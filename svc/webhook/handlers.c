/* The webhook service's gRPC handlers and their table: the three provider endpoints, each one
 * row of the same pipeline, and the admin's ListCallbacks. */
#include "svc/webhook/webhook.h"

static rpc_status vnpay_ipn(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return wh_receive(ctx, &wh_vnpay, msg, out);
}

static rpc_status paypal_webhook(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return wh_receive(ctx, &wh_paypal, msg, out);
}

static rpc_status sepay_webhook(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return wh_receive(ctx, &wh_sepay, msg, out);
}

static const rpc_method_impl methods[] = {
    {"VnpayIpn", vnpay_ipn, 0},
    {"PaypalWebhook", paypal_webhook, 0},
    {"SepayWebhook", sepay_webhook, 0},
    {"ListCallbacks", wh_list_callbacks, 0},
};

const rpc_service_impl webhook_service_impl = {
    .descriptor = &metro__webhook__v1__webhook_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
