/* The gateway's asynchronous gRPC client (see backend.h): one completion queue and one
 * thread that turns each finished call into an rpc_status plus response bytes. */
#include "transcoder/backend.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc_client_internal.h"
#include "common/rpc_server_internal.h"

#define MAX_RESPONSE_BYTES (16u << 20)

static grpc_completion_queue *cq;
static pthread_t poller;
static bool running;

static void finish(backend_call *bc, bool batch_ok) {
  if (!batch_ok) {
    bc->status = (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "backend call failed", .reason = "UNAVAILABLE"};
  } else {
    bc->status = rpc_status_from_call(bc->arena, bc->code, bc->details, &bc->trailers);
    if (rpc_ok(bc->status) &&
        (!bc->recv || !rpc_byte_buffer_read(bc->arena, bc->recv, MAX_RESPONSE_BYTES, &bc->response, &bc->response_len)))
      bc->status = (rpc_status){.code = GRPC_STATUS_INTERNAL, .message = "backend sent no response", .reason = "INTERNAL"};
  }
  if (bc->send) grpc_byte_buffer_destroy(bc->send);
  if (bc->recv) grpc_byte_buffer_destroy(bc->recv);
  grpc_slice_unref(bc->details);
  grpc_slice_unref(bc->method);
  grpc_metadata_array_destroy(&bc->initial);
  grpc_metadata_array_destroy(&bc->trailers);
  rpc_meta_release(bc->md, bc->n_md);
  grpc_call_unref(bc->call);
  bc->done(bc, bc->user);
}

static void *poll_main(void *arg) {
  (void)arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type == GRPC_OP_COMPLETE) finish(ev.tag, ev.success);
  }
  return NULL;
}

bool backend_init(void) {
  grpc_init();
  cq = grpc_completion_queue_create_for_next(NULL);
  running = pthread_create(&poller, NULL, poll_main, NULL) == 0;
  return running;
}

void backend_shutdown(void) {
  if (!running) return;
  grpc_completion_queue_shutdown(cq);
  pthread_join(poller, NULL);
  grpc_completion_queue_destroy(cq);
  running = false;
  grpc_shutdown();
}

bool backend_start(backend_call *bc, arena *a, const char *target, const char *method, const rpc_call_meta *meta,
                   const uint8_t *request, size_t len, int timeout_ms, backend_done_fn done, void *user) {
  rpc_channel *ch = rpc_channel_get(target);
  if (!ch) return false;
  memset(bc, 0, sizeof *bc);
  bc->arena = a;
  bc->done = done;
  bc->user = user;
  bc->method = grpc_slice_from_copied_string(method);
  bc->details = grpc_empty_slice();
  bc->call = grpc_channel_create_call(rpc_channel_raw(ch), NULL, GRPC_PROPAGATE_DEFAULTS, cq, bc->method, NULL,
                                      rpc_deadline(timeout_ms, INT64_MAX), NULL);
  bc->n_md = rpc_meta_build(meta, bc->md);
  grpc_slice payload = grpc_slice_from_copied_buffer((const char *)request, len);
  bc->send = grpc_raw_byte_buffer_create(&payload, 1);
  grpc_slice_unref(payload);
  grpc_metadata_array_init(&bc->initial);
  grpc_metadata_array_init(&bc->trailers);

  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = bc->n_md;
  ops[0].data.send_initial_metadata.metadata = bc->md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = bc->send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &bc->initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &bc->recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &bc->trailers;
  ops[5].data.recv_status_on_client.status = &bc->code;
  ops[5].data.recv_status_on_client.status_details = &bc->details;
  if (grpc_call_start_batch(bc->call, ops, 6, bc, NULL) != GRPC_CALL_OK) {
    log_error("backend: cannot start a call to %s", method);
    grpc_byte_buffer_destroy(bc->send);
    grpc_slice_unref(bc->method);
    grpc_metadata_array_destroy(&bc->initial);
    grpc_metadata_array_destroy(&bc->trailers);
    rpc_meta_release(bc->md, bc->n_md);
    grpc_call_unref(bc->call);
    return false;
  }
  return true;
}
