/* The REST gateway: the strict HTTP/1.1 server (http_server.h) turning each request into a gRPC
 * call through the route table, guarded by authentication, rate limits and circuit breakers. */
#ifndef METRO_GATEWAY_H
#define METRO_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/descset.h"
#include "common/proto_registry.h"
#include "transcoder/backend.h"

typedef struct gateway_config {
  const char *listen_addr;
  int port;
  int threads;
  size_t max_body_bytes;
  int max_connections;
  int idle_timeout_ms;      /* a kept-alive connection with no request */
  int request_deadline_ms;  /* a request's head and body must arrive within this */
  int backend_timeout_ms;
  int max_header_count;
  size_t max_target_bytes;  /* request line target: more → 414 */
  int max_query_params;     /* more → 414 */
  size_t max_header_bytes;  /* one header line: more → 431; the whole head: 2x */
  const char *const *trusted_proxies; /* NULL-terminated peer addresses whose X-Forwarded-For counts */
  const char *const *cors_origins;    /* NULL-terminated; "*" allows any */
  const char *identity_secret;        /* signs the client address forwarded to services */
  int report_ms;                      /* route table and breakers to management (0: never) */
  backend_service *backends;
  int n_backends;
  const descset *descriptors;
  const proto_registry *const *registries; /* NULL-terminated */
} gateway_config;

/* Builds the route table and the OpenAPI document and starts listening.
 * False with a message on a route conflict, an unbound service or a taken port. */
bool gateway_start(const gateway_config *cfg, char *err, size_t errlen);
/* The port actually bound. */
int gateway_port(void);
/* Stops accepting, finishes in-flight requests, frees everything. */
void gateway_stop(void);

#endif
