/* The payment service's Prometheus metrics: callbacks applied inline by their result, refund
 * attempts by outcome, payments by provider and final outcome, and the payments awaiting review. */
#include <stdlib.h>

#include "common/metrics.h"
#include "common/pg.h"
#include "svc/payment/payment.h"

static metric_family *m_callbacks, *m_refunds, *m_payments, *m_review;

void pm_metrics_init(void) {
  m_callbacks = metrics_counter("metro_payment_callbacks_total",
                                "Provider callbacks the webhook service handed over, by provider and result",
                                "provider", "result");
  m_refunds = metrics_counter("metro_payment_refund_attempts_total",
                              "Refund attempts at a provider, by method and outcome", "method", "outcome");
  m_payments = metrics_counter("metro_payments_total",
                               "Payments that reached a final status, by provider and outcome (completed, failed, "
                               "cancelled, refunded)",
                               "provider", "outcome");
  m_review = metrics_gauge("metro_payments_under_review",
                           "Payments flagged for an admin's review (wrong amount, late or suspicious), as this "
                           "replica last counted them",
                           NULL, NULL);
}

void pm_metrics_under_review(rpc_ctx *ctx) {
  PGresult *r;
  if (m_review && rpc_ok(pg_exec(ctx->arena, &r, "SELECT count(*) FROM payments WHERE review_required", 0, NULL)) &&
      PQntuples(r) == 1)
    metrics_set(m_review, NULL, NULL, atof(PQgetvalue(r, 0, 0)));
}

void pm_metrics_callback(const char *provider, const char *result) {
  if (m_callbacks) metrics_add(m_callbacks, provider, result, 1);
}

void pm_metrics_refund(const char *method, int outcome) {
  static const char *const names[] = {"given_up", "failed", "refunded", "handed_over"};
  if (m_refunds && outcome >= -1 && outcome <= 2) metrics_add(m_refunds, method, names[outcome + 1], 1);
}

void pm_metrics_outcome(const char *provider, pm_status status) {
  const char *outcome = status == PM_COMPLETED   ? "completed"
                        : status == PM_FAILED    ? "failed"
                        : status == PM_CANCELLED ? "cancelled"
                        : status == PM_REFUNDED  ? "refunded"
                                                 : NULL;
  if (m_payments && outcome) metrics_add(m_payments, provider, outcome, 1);
}
