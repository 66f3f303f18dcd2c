/* What the gateway tells operators about itself: breaker states as Prometheus gauges every
 * second, and its route table and breakers reported to the management service. */
#ifndef METRO_GATEWAY_REPORT_H
#define METRO_GATEWAY_REPORT_H

#include "transcoder/backend.h"
#include "transcoder/routes.h"

typedef struct gateway_report_config {
  const route_table *routes;
  backend_service *backends;
  int n_backends;
  const char *management_target; /* NULL: no reports (metrics only) */
  const char *listen_addr;
  int port;
  int report_ms;
} gateway_report_config;

void gateway_report_start(const gateway_report_config *cfg);
void gateway_report_stop(void);

#endif
