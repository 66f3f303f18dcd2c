/* The gateway's asynchronous gRPC client (see backend.h): one completion queue and one thread
 * that turns each finished call into an rpc_status plus response bytes, feeds the service's
 * breaker, and starts another attempt when an idempotent call never reached a backend. */
#include "transcoder/backend.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <string.h>

#include "common/grpc_runtime.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc_client_internal.h"
#include "common/rpc_metrics.h"
#include "common/rpc_server_internal.h"

#define MAX_RESPONSE_BYTES (16u << 20)
#define MAX_ATTEMPTS 3
#define MIN_RETRY_BUDGET_MS 50

static grpc_completion_queue *cq;
static pthread_t poller;
static bool running;

/* The call never reached a working backend (refused, reset, no instance ready): the
 * service's health problem, not an answer. Services say UNAVAILABLE with a reason of their own
 * when a dependency of theirs is down; that is an answer. */
static bool unreachable(const rpc_status *st) {
  return st->code == GRPC_STATUS_UNAVAILABLE && (!st->reason || strcmp(st->reason, "UNAVAILABLE") == 0);
}

static bool counts_as_failure(const rpc_status *st) {
  return unreachable(st) || st->code == GRPC_STATUS_DEADLINE_EXCEEDED;
}

static void release_attempt(backend_call *bc) {
  if (bc->send) grpc_byte_buffer_destroy(bc->send);
  if (bc->recv) grpc_byte_buffer_destroy(bc->recv);
  bc->send = bc->recv = NULL;
  grpc_slice_unref(bc->details);
  grpc_slice_unref(bc->method);
  grpc_metadata_array_destroy(&bc->initial);
  grpc_metadata_array_destroy(&bc->trailers);
  rpc_meta_release(bc->md, bc->n_md);
  grpc_call_unref(bc->call);
  bc->call = NULL;
}

static bool start_attempt(backend_call *bc);

static void finish(backend_call *bc, bool batch_ok) {
  bool received = batch_ok && bc->recv;
  if (!batch_ok) {
    bc->status = (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "backend call failed", .reason = "UNAVAILABLE"};
  } else {
    bc->status = rpc_status_from_call(bc->arena, bc->code, bc->details, &bc->trailers);
    if (rpc_ok(bc->status) &&
        (!bc->recv || !rpc_byte_buffer_read(bc->arena, bc->recv, MAX_RESPONSE_BYTES, &bc->response, &bc->response_len)))
      bc->status = (rpc_status){.code = GRPC_STATUS_INTERNAL, .message = "backend sent no response", .reason = "INTERNAL"};
  }
  release_attempt(bc);
  int64_t now = clock_mono_ms();
  rpc_metrics_client_finished(bc->method_name, bc->status.code, (double)(now - bc->attempt_started_ms) / 1000.0,
                              batch_ok, received);
  breaker_record(&bc->svc->breaker, now, counts_as_failure(&bc->status), now - bc->attempt_started_ms);
  if (unreachable(&bc->status) && bc->idempotent && bc->attempts < MAX_ATTEMPTS &&
      bc->deadline_ms - clock_real_ms() > MIN_RETRY_BUDGET_MS) {
    int64_t retry_after = 0;
    if (breaker_allow(&bc->svc->breaker, now, &retry_after)) {
      if (start_attempt(bc)) return;
      breaker_record(&bc->svc->breaker, clock_mono_ms(), true, 0); /* every call let through is recorded */
    }
  }
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
  grpc_runtime_init();
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

static bool start_attempt(backend_call *bc) {
  /* Idempotent calls are retried here when the backend is unreachable (finish), which is all
   * gRPC's transparent retries would do; the others keep gRPC's retry layer for those. */
  rpc_channel *ch = bc->idempotent ? rpc_channel_get_own_retries(bc->svc->grpc_target)
                                   : rpc_channel_get(bc->svc->grpc_target);
  if (!ch) return false;
  bc->attempts++;
  bc->attempt_started_ms = clock_mono_ms();
  bc->method = grpc_slice_from_copied_string(bc->method_name);
  bc->details = grpc_empty_slice();
  bc->recv = NULL;
  bc->call = grpc_channel_create_call(rpc_channel_raw(ch), NULL, GRPC_PROPAGATE_DEFAULTS, cq, bc->method, NULL,
                                      rpc_deadline(0, bc->deadline_ms), NULL);
  bc->n_md = rpc_meta_build(bc->meta, bc->md);
  grpc_slice payload = grpc_slice_from_copied_buffer((const char *)bc->request, bc->request_len);
  bc->send = grpc_raw_byte_buffer_create(&payload, 1);
  grpc_slice_unref(payload);
  grpc_metadata_array_init(&bc->initial);
  grpc_metadata_array_init(&bc->trailers);

  rpc_metrics_started(rpc_method_metrics_get(RPC_METRICS_CLIENT, RPC_TYPE_UNARY, bc->method_name));
  grpc_op ops[6];
  rpc_unary_ops(ops, &(rpc_unary_io){.md = bc->md, .n_md = bc->n_md, .send = bc->send, .recv = &bc->recv,
                                     .initial = &bc->initial, .trailers = &bc->trailers, .code = &bc->code,
                                     .details = &bc->details});
  if (grpc_call_start_batch(bc->call, ops, 6, bc, NULL) != GRPC_CALL_OK) {
    log_error("backend: cannot start a call to %s", bc->method_name);
    release_attempt(bc);
    rpc_metrics_client_finished(bc->method_name, GRPC_STATUS_UNAVAILABLE, 0, false, false);
    return false;
  }
  return true;
}

backend_start_result backend_start(backend_call *bc, arena *a, backend_service *svc, const char *method,
                                   const rpc_call_meta *meta, const uint8_t *request, size_t len, int timeout_ms,
                                   bool idempotent, int64_t *retry_after_ms, backend_done_fn done, void *user) {
  memset(bc, 0, sizeof *bc);
  if (!breaker_allow(&svc->breaker, clock_mono_ms(), retry_after_ms)) return BACKEND_CIRCUIT_OPEN;
  bc->arena = a;
  bc->svc = svc;
  bc->method_name = method;
  rpc_call_meta *kept = arena_alloc(a, sizeof *kept);
  *kept = *meta;
  bc->meta = kept;
  bc->request = request;
  bc->request_len = len;
  bc->deadline_ms = clock_real_ms() + timeout_ms;
  bc->idempotent = idempotent;
  bc->done = done;
  bc->user = user;
  if (!start_attempt(bc)) {
    breaker_record(&svc->breaker, clock_mono_ms(), true, 0);
    return BACKEND_NOT_STARTED;
  }
  return BACKEND_STARTED;
}
