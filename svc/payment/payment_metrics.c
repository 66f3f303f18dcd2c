/* The payment service's Prometheus counters: callbacks applied inline by their result and
 * refund attempts by outcome, counted once the change they report has committed. */
#include "common/metrics.h"
#include "svc/payment/payment.h"

static metric_family *m_callbacks, *m_refunds;

void pm_metrics_init(void) {
  m_callbacks = metrics_counter("metro_payment_callbacks_total",
                                "Provider callbacks the webhook service handed over, by provider and result",
                                "provider", "result");
  m_refunds = metrics_counter("metro_payment_refund_attempts_total",
                              "Refund attempts at a provider, by method and outcome", "method", "outcome");
}

void pm_metrics_callback(const char *provider, const char *result) {
  if (m_callbacks) metrics_add(m_callbacks, provider, result, 1);
}

void pm_metrics_refund(const char *method, int outcome) {
  static const char *const names[] = {"given_up", "failed", "refunded", "handed_over"};
  if (m_refunds && outcome >= -1 && outcome <= 2) metrics_add(m_refunds, method, names[outcome + 1], 1);
}
