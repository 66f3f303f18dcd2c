/* The ticket service's Prometheus counters: tickets sold (created) by type and payment method,
 * and gate taps by direction, outcome and refusal reason; each counted once its change commits. */
#ifndef METRO_TICKET_METRICS_H
#define METRO_TICKET_METRICS_H

#include <stdbool.h>

/* Registers the counters, the accepted taps of each direction at zero (start-up). */
void tk_metrics_init(void);
/* metro_tickets_sold_total{ticket_type, payment_method}: a ticket was created. */
void tk_metrics_ticket_sold(const char *ticket_type, const char *payment_method);
/* metro_taps_total{direction, outcome, reason}: a tap was answered; reason is "" when accepted,
 * else one of the gate rules' refusal reasons (a bounded set) or INVALID_TOKEN. */
void tk_metrics_tap(const char *direction, bool accepted, const char *reason);

#endif
