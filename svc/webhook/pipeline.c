/* The one path every provider callback takes (§12): bounded, checked by its provider row, rejected
 * ones kept apart, accepted ones stored with webhook.received, handed to payment and answered. */
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pb_time.h"
#include "svc/webhook/webhook.h"

static metric_family *m_callbacks, *m_apply_failures;

void wh_metrics_init(void) {
  m_callbacks = metrics_counter("metro_webhook_callbacks_total",
                                "Provider callbacks by provider and verdict (accepted, duplicate, rejected, "
                                "unavailable, unconfigured)",
                                "provider", "verdict");
  m_apply_failures = metrics_counter("metro_webhook_apply_failures_total",
                                     "Accepted callbacks payment did not answer inline (left to webhook.received)",
                                     "provider", NULL);
}

static void count(const wh_provider *p, const char *verdict) {
  if (m_callbacks) metrics_add(m_callbacks, p->name, verdict, 1);
}

int64_t wh_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static ProtobufCMessage *respond(rpc_ctx *ctx, wh_reply r) {
  Metro__Api__V1__HttpResponse *resp =
      RPC_NEW(ctx, Metro__Api__V1__HttpResponse, metro__api__v1__http_response__init);
  resp->status = r.status;
  resp->content_type = (char *)"application/json";
  resp->body.data = (uint8_t *)r.body;
  resp->body.len = r.body ? strlen(r.body) : 0;
  return &resp->base;
}

/* Kept for forensics; failing to keep it changes nothing in the answer. */
static void keep_rejected(rpc_ctx *ctx, const wh_provider *p, const wh_inbound *in, const char *reason,
                          const char *event_type, bool with_payload) {
  wh_rejection r = {
      .provider = p->name,
      .event_type = event_type,
      .reason = reason,
      .payload_json = with_payload ? wh_payload_json(ctx, p->source, in->raw, in->raw_len)
                                   : arena_printf(ctx->arena, "{\"size\":%zu}", in->raw_len),
      .raw_text = with_payload ? wh_text_clean(ctx->arena, in->raw, in->raw_len, WH_MAX_PAYLOAD) : "",
      .headers_json = wh_headers_json(ctx, in),
      .client_ip = in->client_ip,
  };
  rpc_status st = wh_store_rejected(ctx, &r);
  if (!rpc_ok(st)) log_error("%s: could not store a rejected callback (%s): %s", p->name, reason, st.message);
  count(p, "rejected");
  log_warn("%s: callback rejected: %s (client %s)", p->name, reason, in->client_ip[0] ? in->client_ip : "-");
}

static rpc_status take_accepted(rpc_ctx *ctx, const wh_provider *p, const wh_inbound *in,
                                Metro__Events__V1__WebhookReceived *m, ProtobufCMessage **out) {
  char callback_id[CRYPTO_UUID_LEN + 1];
  crypto_uuid_v4(callback_id);
  m->callback_id = arena_strdup(ctx->arena, callback_id);
  m->provider = (char *)p->name;
  m->received_at = pb_timestamp(ctx, wh_now_us());
  m->raw_payload = (char *)wh_text_clean(ctx->arena, in->raw, in->raw_len, WH_MAX_PAYLOAD);
  bool duplicate = false;
  rpc_status st = wh_store_accepted(ctx, m, wh_payload_json(ctx, p->source, in->raw, in->raw_len),
                                    wh_headers_json(ctx, in), &duplicate);
  if (!rpc_ok(st)) return st; /* not stored: the error status makes the provider deliver again */

  const Metro__Payment__V1__ApplyCallbackResponse *applied = wh_apply(ctx, m);
  if (!applied && m_apply_failures) metrics_add(m_apply_failures, p->name, NULL, 1);
  wh_reply reply = p->answer(applied, duplicate);
  const char *code = reply.code ? reply.code : arena_printf(ctx->arena, "%d", reply.status);
  st = wh_store_answer(ctx, m->callback_id, code);
  if (!rpc_ok(st)) log_warn("%s: could not record the answer to %s: %s", p->name, m->provider_event_id, st.message);
  const char *verdict = duplicate ? "duplicate" : "accepted";
  count(p, verdict);
  log_info("%s: callback %s %s (%s %s), payment %s, answered %s", p->name, m->provider_event_id, verdict,
           m->event_type, m->outcome, applied && applied->result ? applied->result : "unreachable", code);
  *out = respond(ctx, reply);
  return RPC_OK;
}

rpc_status wh_receive(rpc_ctx *ctx, const wh_provider *p, const ProtobufCMessage *request, ProtobufCMessage **out) {
  const Metro__Api__V1__HttpRequest *http = (const Metro__Api__V1__HttpRequest *)request;
  if (!p->configured(wh_st(ctx))) {
    count(p, "unconfigured");
    *out = respond(ctx, wh_json_error(ctx, 503, "PROVIDER_NOT_CONFIGURED"));
    return RPC_OK;
  }
  wh_inbound in;
  wh_inbound_read(ctx, http, p->source, &in);
  if (in.raw_len > WH_MAX_PAYLOAD) {
    keep_rejected(ctx, p, &in, WH_REASON_TOO_LARGE, NULL, false);
    *out = respond(ctx, wh_json_error(ctx, 400, WH_REASON_TOO_LARGE));
    return RPC_OK;
  }
  wh_check chk;
  memset(&chk, 0, sizeof chk);
  p->check(ctx, &in, &chk);
  switch (chk.result) {
  case WH_ACCEPTED:
    return take_accepted(ctx, p, &in, chk.msg, out);
  case WH_REJECTED:
    keep_rejected(ctx, p, &in, chk.reason, chk.event_type, true);
    break;
  case WH_UNAVAILABLE:
    count(p, "unavailable");
    break;
  }
  *out = respond(ctx, chk.reply);
  return RPC_OK;
}
