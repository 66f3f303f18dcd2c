/* The ticket service's Prometheus counters (see ticket_metrics.h): registered at start-up, so a
 * scrape shows them before the first sale or tap. */
#include "svc/ticket/ticket_metrics.h"

#include "common/metrics.h"

static metric_family *m_sold, *m_taps;

void tk_metrics_init(void) {
  m_sold = metrics_counter("metro_tickets_sold_total", "Tickets created (bought), by ticket type and payment method",
                           "ticket_type", "payment_method");
  m_taps = metrics_counter_v("metro_taps_total",
                             "Gate taps answered, by direction, outcome (accepted, refused) and refusal reason",
                             (const char *const[]){"direction", "outcome", "reason"}, 3);
  metrics_add_v(m_taps, (const char *const[]){"entry", "accepted", ""}, 0);
  metrics_add_v(m_taps, (const char *const[]){"exit", "accepted", ""}, 0);
}

void tk_metrics_ticket_sold(const char *ticket_type, const char *payment_method) {
  metrics_add(m_sold, ticket_type, payment_method, 1);
}

void tk_metrics_tap(const char *direction, bool accepted, const char *reason) {
  metrics_add_v(m_taps, (const char *const[]){direction, accepted ? "accepted" : "refused", accepted ? "" : reason}, 1);
}
