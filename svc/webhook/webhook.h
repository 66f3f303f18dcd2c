/* The webhook service's shared declarations: settings and state, the provider rows the callback
 * pipeline runs, request helpers, the callback log, the call to payment and ListCallbacks. */
#ifndef METRO_WEBHOOK_H
#define METRO_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc_server.h"
#include "metro/api/v1/http.pb-c.h"
#include "metro/events/v1/webhook_events.pb-c.h"
#include "metro/payment/v1/payment.pb-c.h"
#include "metro/webhook/v1/webhook.pb-c.h"
#include "svc/payment/providers/provider_api.h"

/* ==== state and settings (main.c) ==== */

typedef struct wh_settings {
  char *payment_addr;
  char *vnpay_tmn_code, *vnpay_hash_secret;
  char *paypal_api_base, *paypal_client_id, *paypal_client_secret, *paypal_webhook_id;
  char *sepay_api_key;
  int64_t provider_timeout_ms;
  int64_t apply_timeout_ms;
} wh_settings;

typedef struct wh_state {
  wh_settings settings;
  papi_paypal *paypal;                       /* NULL when PayPal is not configured */
} wh_state;

static inline const wh_state *wh_st(const rpc_ctx *ctx) { return (const wh_state *)ctx->state; }
static inline const wh_settings *wh_cfg(const rpc_ctx *ctx) { return &wh_st(ctx)->settings; }

/* ==== inbound.c: the HTTP request as the gateway passed it, read defensively ==== */

#define WH_MAX_PAYLOAD (64 * 1024)           /* larger bodies or queries are refused unread */
#define WH_MAX_HEADER_VALUE 2048             /* a longer header counts as absent */

/* Where a provider puts what it signs: the query string (VNPay) or the body. */
typedef enum wh_source { WH_FROM_QUERY, WH_FROM_BODY } wh_source;

typedef struct wh_inbound {
  const Metro__Api__V1__HttpRequest *http;
  const char *raw;                           /* the query or the body, NUL-terminated arena copy */
  size_t raw_len;                            /* its length in bytes (the body may hold NULs) */
  const char *client_ip;                     /* bounded, printable; "" when unknown */
} wh_inbound;

void wh_inbound_read(rpc_ctx *ctx, const Metro__Api__V1__HttpRequest *http, wh_source source, wh_inbound *out);
/* The value of a header sent exactly once (name lower-case) and at most max bytes; NULL when
 * absent, repeated or too long. */
const char *wh_header(const wh_inbound *in, const char *name, size_t max);
/* The headers as a jsonb text for the log: names and values bounded, repeated ones joined with
 * ", ", credentials (authorization, ...) cut to their scheme. */
const char *wh_headers_json(rpc_ctx *ctx, const wh_inbound *in);
/* raw_payload as a jsonb text: {"query": text} for a query; the body itself when it is JSON,
 * else {"body": text}. */
const char *wh_payload_json(rpc_ctx *ctx, wh_source source, const char *raw, size_t n);
/* A copy of s[0..n) (which need not be NUL-terminated) as valid UTF-8 without NULs, fit for a
 * text column: bad bytes become U+FFFD, cut to at most max bytes on a character boundary. */
const char *wh_text_clean(arena *a, const char *s, size_t n, size_t max);

/* ==== providers: what each endpoint checks and answers (vnpay.c, paypal.c, sepay.c) ==== */

/* An HTTP answer; code is what callbacks.answer_code records (VNPay RspCode; NULL = the status). */
typedef struct wh_reply {
  int status;
  const char *body;
  const char *code;
} wh_reply;

typedef enum wh_check_result {
  WH_ACCEPTED,                               /* authentic and parsed: msg is filled */
  WH_REJECTED,                               /* failed its check: reason, reply */
  WH_UNAVAILABLE,                            /* could not be checked now (provider API down): reply */
} wh_check_result;

typedef struct wh_check {
  wh_check_result result;
  const char *reason;                        /* rejected: rejected_callbacks.reason (see wh_reasons) */
  const char *event_type;                    /* rejected: when known, else NULL */
  wh_reply reply;                            /* rejected and unavailable */
  /* accepted: the domain fields (the pipeline sets callback_id, provider, received_at and
   * raw_payload) */
  Metro__Events__V1__WebhookReceived *msg;
} wh_check;

typedef struct wh_provider {
  const char *name;                          /* "vnpay": callbacks.provider, logs, metrics */
  wh_source source;
  bool (*configured)(const wh_state *s);
  void (*check)(rpc_ctx *ctx, const wh_inbound *in, wh_check *out);
  /* The answer once stored; applied is payment's verdict, NULL when payment did not answer;
   * replay: this delivery was stored before (a duplicate of the provider's event). */
  wh_reply (*answer)(const Metro__Payment__V1__ApplyCallbackResponse *applied, bool replay);
} wh_provider;

extern const wh_provider wh_vnpay, wh_paypal, wh_sepay;

/* ==== verdicts.c: what a check concludes, the answers, the rejection reasons ==== */

void wh_reject(wh_check *out, const char *reason, const char *event_type, wh_reply reply);
Metro__Events__V1__WebhookReceived *wh_accept(rpc_ctx *ctx, wh_check *out);
/* WebhookReceived.outcome: "completed", "failed", "cancelled", "approved" or "none". */
const char *wh_outcome_name(pay_outcome o);
/* {"error":"<code>"} with the status. */
wh_reply wh_json_error(rpc_ctx *ctx, int status, const char *code);

/* The rejection reasons and whether the callback had passed its authenticity check before it
 * failed (Callback.signature_valid of rejected rows). false for an unknown reason. */
#define WH_REASON_INVALID_CHECKSUM "INVALID_CHECKSUM"
#define WH_REASON_INVALID_FIELDS "INVALID_FIELDS"
#define WH_REASON_TMN_CODE_MISMATCH "TMN_CODE_MISMATCH"
#define WH_REASON_MISSING_HEADERS "MISSING_TRANSMISSION_HEADERS"
#define WH_REASON_MALFORMED_EVENT "MALFORMED_EVENT"
#define WH_REASON_SIGNATURE_INVALID "WEBHOOK_SIGNATURE_INVALID"
#define WH_REASON_UNAUTHORIZED "UNAUTHORIZED"
#define WH_REASON_MALFORMED_BODY "MALFORMED_BODY"
#define WH_REASON_TOO_LARGE "PAYLOAD_TOO_LARGE"
bool wh_reason_authentic(const char *reason);

/* ==== pipeline.c: the one path every callback endpoint takes ==== */

void wh_metrics_init(void);
int64_t wh_now_us(void); /* µs since the epoch */
/* Not configured -> 503; too large -> rejected; check; rejected -> logged, answered; accepted ->
 * stored with webhook.received, handed to payment, answered, answer recorded. */
rpc_status wh_receive(rpc_ctx *ctx, const wh_provider *p, const ProtobufCMessage *request, ProtobufCMessage **out);

/* ==== callbacks_store.c: writing the callback log ==== */

/* Inserts the accepted callback (once per provider event id) and, when it is new, publishes
 * webhook.received in the same transaction. A duplicate: *duplicate, and msg's callback_id and
 * received_at become the stored row's. */
rpc_status wh_store_accepted(rpc_ctx *ctx, Metro__Events__V1__WebhookReceived *msg, const char *payload_json,
                             const char *headers_json, bool *duplicate);
typedef struct wh_rejection {
  const char *provider, *event_type, *reason;
  const char *payload_json, *raw_text, *headers_json, *client_ip;
} wh_rejection;
rpc_status wh_store_rejected(rpc_ctx *ctx, const wh_rejection *r);
rpc_status wh_store_answer(rpc_ctx *ctx, const char *callback_id, const char *answer_code);

/* ==== apply.c: the inline hand-over to payment ==== */

/* PaymentService.ApplyCallback as service "webhook"; NULL (logged) when payment did not answer. */
const Metro__Payment__V1__ApplyCallbackResponse *wh_apply(rpc_ctx *ctx, const Metro__Events__V1__WebhookReceived *msg);

/* ==== list.c: ListCallbacks ==== */

rpc_status wh_list_callbacks(rpc_ctx *ctx, const ProtobufCMessage *request, ProtobufCMessage **out);

/* ==== handlers.c ==== */

extern const rpc_service_impl webhook_service_impl;

#endif
