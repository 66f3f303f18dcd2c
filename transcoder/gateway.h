/* The REST gateway: an HTTP/1.1 server (libmicrohttpd) that turns each request into a
 * gRPC call through the route table, and the gRPC answer into JSON. */
#ifndef METRO_GATEWAY_H
#define METRO_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/descset.h"
#include "common/proto_registry.h"

typedef struct gateway_backend {
  const char *service_key; /* "auth" for metro.auth.v1.*, "testing" for metro.testing.v1.* */
  const char *target;      /* "127.0.0.1:50051" */
} gateway_backend;

typedef struct gateway_config {
  const char *listen_addr;
  int port;
  int threads;
  size_t max_body_bytes;
  int max_connections;
  int connection_timeout_s;
  int backend_timeout_ms;
  int max_header_count;
  bool trust_forwarded_for;
  const char *const *cors_origins; /* NULL-terminated; "*" allows any */
  const gateway_backend *backends;
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
