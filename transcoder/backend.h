/* Asynchronous unary gRPC calls from the gateway to the services: started from an
 * HTTP thread, completed on a completion-queue thread that calls back. */
#ifndef METRO_BACKEND_H
#define METRO_BACKEND_H

#include <grpc/grpc.h>

#include "common/rpc_client_internal.h"

typedef struct backend_call backend_call;
typedef void (*backend_done_fn)(backend_call *call, void *user);

/* Lives in the request's arena; the result fields are valid in the callback. */
struct backend_call {
  rpc_status status;
  uint8_t *response; /* packed response message (arena) when status is OK */
  size_t response_len;
  /* private */
  arena *arena;
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

/* Starts the call; false (and no callback) when it could not be started. */
bool backend_start(backend_call *bc, arena *a, const char *target, const char *method, const rpc_call_meta *meta,
                   const uint8_t *request, size_t len, int timeout_ms, backend_done_fn done, void *user);

#endif
