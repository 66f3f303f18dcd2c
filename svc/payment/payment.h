/* The payment service's shared declarations: settings and state, the payments table and its
 * conditional transitions, link preparation, callback application, refunds and alerts. */
#ifndef METRO_PAYMENT_H
#define METRO_PAYMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/events.h"
#include "common/rpc_server.h"
#include "metro/events/v1/webhook_events.pb-c.h"
#include "metro/payment/v1/payment.pb-c.h"
#include "svc/payment/providers/provider_api.h"

typedef struct pm_settings {
  char *public_base_url;   /* where providers send buyers back (the REST gateway) */
  char *server_ip;         /* vnp_IpAddr */
  char *vnpay_pay_url, *vnpay_api_url, *vnpay_tmn_code, *vnpay_hash_secret;
  bool vnpay_refund_api;
  char *paypal_api_base, *paypal_client_id, *paypal_client_secret;
  char *paypal_return_url, *paypal_cancel_url;
  int64_t vnd_per_usd;
  char *sepay_qr_base, *sepay_bank, *sepay_account;
  int64_t provider_timeout_ms;
  int64_t refund_retry_s, refund_give_up_s, refund_poll_ms;
} pm_settings;

typedef struct pm_state {
  pm_settings settings;
  papi_paypal *paypal;     /* NULL when PayPal is not configured */
  papi_vnpay_config vnpay_api;
} pm_state;

static inline const pm_settings *pm_cfg(const rpc_ctx *ctx) { return &((const pm_state *)ctx->state)->settings; }
static inline pm_state *pm_st(const rpc_ctx *ctx) { return (pm_state *)ctx->state; }

/* ==== payments_store.c: the payments table ==== */

typedef enum pm_status {
  PM_PENDING,
  PM_APPROVED,
  PM_COMPLETED,
  PM_FAILED,
  PM_CANCELLED,
  PM_REFUND_PENDING,
  PM_REFUNDED,
  PM_N_STATUS
} pm_status;

const char *pm_status_name(pm_status s);
bool pm_status_parse(const char *s, pm_status *out);

/* One payment row: the API message plus what only the service needs. */
typedef struct pm_row {
  Metro__Payment__V1__Payment *p;
  pm_status status;
  int64_t amount_usd_cents; /* PayPal, else 0 */
  const char *vnp_create_date;
  int version;
} pm_row;

/* Reads one payment (FOR UPDATE when lock). *out NULL when there is none. by: "payment_id",
 * "ticket_id", or a method's provider_ref ("vnpay", "paypal", "sepay"). */
rpc_status pm_find(rpc_ctx *ctx, const char *by, const char *key, bool lock, pm_row **out);

/* One status change, applied only while the row is still in one of `from` (so it wins at
 * most once); *won false when another change got there first. Columns set alongside: */
typedef struct pm_change {
  pm_status to;
  const char *failure_reason;
  const char *provider_txn_id;
  int64_t paid_amount;      /* < 0: leave */
  bool set_review;          /* review_required = true, review_reason */
  const char *review_reason;
  int refund_amount;        /* REFUND_PENDING: the VND to give back */
  const char *refund_reason;
} pm_change;

rpc_status pm_transition(rpc_ctx *ctx, pm_row *row, const pm_status *from, int n_from, const pm_change *c,
                         bool *won);
/* Flags a payment for review without changing its status (and alerts an admin). */
rpc_status pm_flag_review(rpc_ctx *ctx, pm_row *row, const char *reason);

/* The events of a status: payment.completed / failed / cancelled (PaymentOutcome) and
 * payment.refunded; nothing for the others. Runs in the caller's transaction. */
rpc_status pm_publish_status(rpc_ctx *ctx, const pm_row *row, const char *reason);

/* Admin list with filters and keyset pagination. */
rpc_status pm_list(rpc_ctx *ctx, const Metro__Payment__V1__ListPaymentsRequest *q,
                   Metro__Payment__V1__ListPaymentsResponse **out);

/* ==== prepare.c: the payment of a new ticket and its pay link (saga step 2) ==== */

rpc_status pm_on_ticket_created(rpc_ctx *ctx, const ev_event *ev);

/* ==== callbacks.c: provider verdicts applied once (§12, §12.1) ==== */

/* Applies a verified callback; idempotent per (provider, provider_event_id). Runs in the
 * caller's transaction. */
rpc_status pm_apply_callback(rpc_ctx *ctx, const Metro__Events__V1__WebhookReceived *cb,
                             Metro__Payment__V1__ApplyCallbackResponse **out);
rpc_status pm_on_webhook_received(rpc_ctx *ctx, const ev_event *ev);
/* A PayPal capture answer (CapturePaypalPayment) applied like its webhook would be. */
rpc_status pm_apply_paypal_capture(rpc_ctx *ctx, pm_row *row, const pay_paypal_capture *c);

/* ==== refunds.c: REFUND_PENDING -> REFUNDED (§12.2) ==== */

rpc_status pm_on_ticket_cancelled(rpc_ctx *ctx, const ev_event *ev);
rpc_status pm_on_ticket_expired(rpc_ctx *ctx, const ev_event *ev);
/* Tries one due refund at the provider (its own transaction; the row stays locked over the
 * call). *outcome: 1 refunded, 0 will retry, -1 given up, 2 nothing to do (manual or gone). */
rpc_status pm_refund_attempt(rpc_ctx *ctx, const char *payment_id, int *outcome);
/* Refunds due now: the first attempts (retries only when include_retries). */
rpc_status pm_refunds_due(rpc_ctx *ctx, int limit, bool include_retries, const char ***ids, int *n);
/* The background thread that makes every refund's first attempt soon after it is due. */
bool pm_refund_worker_start(pm_state *st);
void pm_refund_worker_stop(void);

/* ==== payment_metrics.c ==== */

void pm_metrics_init(void);
void pm_metrics_callback(const char *provider, const char *result);
/* outcome as pm_refund_attempt reports it (-1..2). */
void pm_metrics_refund(const char *method, int outcome);
/* A payment reached a final status (completed, failed, cancelled, refunded), counted with the
 * event that says so, in metro_payments_total{provider, outcome}. */
void pm_metrics_outcome(const char *provider, pm_status status);
/* Counts the payments awaiting review into metro_payments_under_review (the refund worker's rounds). */
void pm_metrics_under_review(rpc_ctx *ctx);

/* ==== alerts.c ==== */

/* An admin alert: a row in admin_alerts (in the caller's transaction) and an error log line
 * marked "alert". */
rpc_status pm_alert(rpc_ctx *ctx, const char *kind, const char *payment_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ==== admin.c: the staff and admin methods ==== */

rpc_status pm_list_payments(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status pm_get_payment(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status pm_list_unmatched(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status pm_confirm_refund(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status pm_resolve_review(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status pm_retry_refunds(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

/* ==== handlers.c ==== */

extern const rpc_service_impl payment_service_impl;
extern const ev_subscription pm_subscriptions[];
extern const size_t pm_n_subscriptions;

#endif
