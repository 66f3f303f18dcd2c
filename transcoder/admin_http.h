/* The gateway's admin port: /metrics, /healthz and /readyz on an instance of the gateway's own
 * HTTP server, so the gateway needs no second HTTP library (services use metrics_http.c). */
#ifndef METRO_ADMIN_HTTP_H
#define METRO_ADMIN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* Serves GET /metrics (metrics_render), /healthz and /readyz (ready(), NULL: always ready) on
 * addr (an IPv4 literal) and port. False with a message when it cannot listen. */
bool admin_http_start(const char *addr, int port, bool (*ready)(void), char *err, size_t errlen);
void admin_http_stop(void);

#endif
