/* Asynchronous unary gRPC calls from the gateway to the services: started from an HTTP loop
 * thread, completed on a completion-queue thread; guarded by a circuit breaker per service and
 * retried on another instance when an idempotent call could not reach its backend. */
#ifndef METRO_BACKEND_H
#define METRO_BACKEND_H

#include <grpc/grpc.h>

#include "common/rpc_client_internal.h"
#include "transcoder/breaker.h"

/* One service behind the gateway. The target is a gRPC target: "host:port", several
 * instances "ipv4:a:p,b:p" or a DNS name "dns:///name:port" (a headless Service); calls spread
 * over the instances round robin. */
typedef struct backend_service {
  const char *key;    /* "auth" for metro.auth.v1.*, "testing" for metro.testing.v1.* */
  const char *target; /* as given in configuration ("a:p|b:p") */
  const char *grpc_target;
  breaker breaker;
} backend_service;

typedef struct backend_call backend_call;
typedef void (*backend_done_fn)(backend_call *call, void *user);

/* Lives in the request's arena; the result fields are valid in the callback. */
struct backend_call {
  rpc_status status;
  uint8_t *response; /* packed response message (arena) when status is OK */
  size_t response_len;
  int attempts;
  /* private */
  arena *arena;
  backend_service *svc;
  const char *method_name;
  const rpc_call_meta *meta;
  const uint8_t *request;
  size_t request_len;
  int64_t deadline_ms; /* realtime, absolute */
  int64_t attempt_started_ms;
  bool idempotent;
  grpc_call *call;
  grpc_metadata md[RPC_META_MAX];
  size_t n_md;
  grpc_byte_buffer *send, *recv;
  grpc_metadata_array initial, trailers;
  grpc_status_code code;
  grpc_slice details, method;
  backend_done_fn done;
  void *user;
};

bool backend_init(void);
void backend_shutdown(void);

typedef enum { BACKEND_STARTED, BACKEND_CIRCUIT_OPEN, BACKEND_NOT_STARTED } backend_start_result;

/* Starts the call (the callback follows exactly once) unless the service's breaker is open
 * (*retry_after_ms set) or the call could not be created. Idempotent calls that fail to reach
 * a backend are retried (at most 3 attempts in all) within the same deadline. */
backend_start_result backend_start(backend_call *bc, arena *a, backend_service *svc, const char *method,
                                   const rpc_call_meta *meta, const uint8_t *request, size_t len, int timeout_ms,
                                   bool idempotent, int64_t *retry_after_ms, backend_done_fn done, void *user);

#endif
