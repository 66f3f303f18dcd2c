/* grpc.health.v1.Health/Check on every instance of a round at once, on one completion queue,
 * each call with its own deadline; one channel per address, kept while the address is checked. */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/grpc_runtime.h"
#include "common/status.h"
#include "grpc/health/v1/health.pb-c.h"
#include "svc/management/management.h"

#define HEALTH_CHECK "/grpc.health.v1.Health/Check"
/* A call always completes by its deadline; this much longer and it is cancelled. */
#define COMPLETION_GRACE_MS 2000

typedef struct chan {
  char *address;
  grpc_channel *channel;
  bool used; /* checked in the current round */
} chan;

struct mgmt_prober {
  chan *chans;
  int n, cap;
  int max_backoff_ms;
};

typedef struct pending_call {
  grpc_call *call;
  grpc_byte_buffer *send, *recv; /* send: alive until the batch completes */
  grpc_metadata_array initial, trailers;
  grpc_status_code code;
  grpc_slice details;
  struct timespec started;
  bool started_ok, done;
} pending_call;

static double elapsed_ms(const struct timespec *from) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - from->tv_sec) * 1000.0 + (double)(now.tv_nsec - from->tv_nsec) / 1e6;
}

mgmt_prober *mgmt_prober_create(int max_backoff_ms) {
  mgmt_prober *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->max_backoff_ms = max_backoff_ms;
  grpc_runtime_init();
  return p;
}

static grpc_channel *channel_for(mgmt_prober *p, const char *address) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->chans[i].address, address) == 0) {
      p->chans[i].used = true;
      return p->chans[i].channel;
    }
  if (p->n == p->cap) {
    int cap = p->cap ? p->cap * 2 : 16;
    chan *c = realloc(p->chans, sizeof *c * (size_t)cap);
    if (!c) return NULL;
    p->chans = c;
    p->cap = cap;
  }
  /* A separate connection per channel, no retries, and a reconnect back-off no longer than the
   * poll period, so an instance that comes back is seen at the next round or the one after. */
  int initial = p->max_backoff_ms < 1000 ? p->max_backoff_ms : 1000;
  grpc_arg args[] = {
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, .value.integer = 1},
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_RETRIES, .value.integer = 0},
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, .value.integer = initial},
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, .value.integer = p->max_backoff_ms},
  };
  grpc_channel_args channel_args = {.num_args = sizeof args / sizeof args[0], .args = args};
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  chan *c = &p->chans[p->n];
  c->channel = grpc_channel_create(address, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  c->address = strdup(address);
  if (!c->address) {
    grpc_channel_destroy(c->channel);
    return NULL;
  }
  c->used = true;
  p->n++;
  return c->channel;
}

/* Closes the channels of addresses this round did not check (vanished pods, old config). */
static void drop_unused(mgmt_prober *p) {
  int kept = 0;
  for (int i = 0; i < p->n; i++) {
    if (p->chans[i].used) {
      p->chans[kept++] = p->chans[i];
    } else {
      grpc_channel_destroy(p->chans[i].channel);
      free(p->chans[i].address);
    }
  }
  p->n = kept;
}

/* Printable ASCII of what a peer sent, bounded: it ends up in the table and the API. */
static void put_error(mgmt_check *c, const char *code, const char *detail, size_t detail_len) {
  int n = snprintf(c->error, sizeof c->error, "%s%s", code, detail_len ? ": " : "");
  for (size_t i = 0; i < detail_len && n >= 0 && (size_t)n + 1 < sizeof c->error; i++, n++) {
    char ch = detail[i];
    c->error[n] = ch >= 0x20 && ch < 0x7f ? ch : '?';
  }
  if (n >= 0 && (size_t)n < sizeof c->error) c->error[n] = '\0';
}

static void put_text(mgmt_check *c, const char *code, const char *text) { put_error(c, code, text, strlen(text)); }

static void classify(mgmt_check *c, pending_call *pc) {
  if (!pc->started_ok) {
    c->status = METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE;
    put_text(c, "INTERNAL", "the health check could not be started");
    return;
  }
  const char *detail = (const char *)GRPC_SLICE_START_PTR(pc->details);
  size_t detail_len = GRPC_SLICE_LENGTH(pc->details);
  if (pc->code == GRPC_STATUS_UNAVAILABLE || pc->code == GRPC_STATUS_DEADLINE_EXCEEDED ||
      pc->code == GRPC_STATUS_CANCELLED) {
    c->status = METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE;
    put_error(c, rpc_code_name(pc->code), detail, detail_len);
    return;
  }
  c->status = METRO__MANAGEMENT__V1__INSTANCE_STATUS__NOT_SERVING;
  if (pc->code != GRPC_STATUS_OK) {
    put_error(c, rpc_code_name(pc->code), detail, detail_len);
    return;
  }
  Grpc__Health__V1__HealthCheckResponse *resp = NULL;
  if (pc->recv) {
    grpc_byte_buffer_reader reader;
    if (grpc_byte_buffer_reader_init(&reader, pc->recv)) {
      grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
      resp = grpc__health__v1__health_check_response__unpack(NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
      grpc_slice_unref(all);
      grpc_byte_buffer_reader_destroy(&reader);
    }
  }
  if (!resp) {
    put_text(c, "MALFORMED_RESPONSE", "");
    return;
  }
  switch (resp->status) {
  case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING:
    c->status = METRO__MANAGEMENT__V1__INSTANCE_STATUS__SERVING;
    c->error[0] = '\0';
    break;
  case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING: put_text(c, "NOT_SERVING", ""); break;
  case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN:
    put_text(c, "SERVICE_UNKNOWN", "");
    break;
  default: put_text(c, "UNKNOWN", ""); break;
  }
  grpc__health__v1__health_check_response__free_unpacked(resp, NULL);
}

void mgmt_prober_run(mgmt_prober *p, mgmt_check *checks, int n, int timeout_ms) {
  for (int i = 0; i < p->n; i++) p->chans[i].used = false;
  pending_call *calls = n > 0 ? calloc((size_t)n, sizeof *calls) : NULL;
  if (n > 0 && !calls) {
    for (int i = 0; i < n; i++) {
      checks[i].status = METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE;
      put_text(&checks[i], "RESOURCE_EXHAUSTED", "out of memory");
    }
    return;
  }
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  grpc_slice method = grpc_slice_from_static_string(HEALTH_CHECK);
  gpr_timespec deadline =
      gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
  int outstanding = 0;
  for (int i = 0; i < n; i++) {
    pending_call *pc = &calls[i];
    grpc_metadata_array_init(&pc->initial);
    grpc_metadata_array_init(&pc->trailers);
    pc->details = grpc_empty_slice();
    pc->code = GRPC_STATUS_UNKNOWN;
    grpc_channel *ch = channel_for(p, checks[i].address);
    if (!ch) continue;
    pc->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL, deadline, NULL);
    /* HealthCheckRequest{service: ""} (the whole server) packs to no bytes. */
    grpc_slice empty = grpc_empty_slice();
    pc->send = grpc_raw_byte_buffer_create(&empty, 1);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = pc->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &pc->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &pc->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &pc->trailers;
    ops[5].data.recv_status_on_client.status = &pc->code;
    ops[5].data.recv_status_on_client.status_details = &pc->details;
    clock_gettime(CLOCK_MONOTONIC, &pc->started);
    pc->started_ok = grpc_call_start_batch(pc->call, ops, 6, pc, NULL) == GRPC_CALL_OK;
    if (pc->started_ok) outstanding++;
  }
  gpr_timespec give_up = gpr_time_add(deadline, gpr_time_from_millis(COMPLETION_GRACE_MS, GPR_TIMESPAN));
  bool cancelled = false;
  while (outstanding > 0) {
    grpc_event ev = grpc_completion_queue_next(cq, cancelled ? gpr_inf_future(GPR_CLOCK_MONOTONIC) : give_up, NULL);
    if (ev.type == GRPC_OP_COMPLETE) {
      pending_call *pc = ev.tag;
      int i = (int)(pc - calls);
      checks[i].latency_ms = elapsed_ms(&pc->started);
      pc->done = true;
      outstanding--;
    } else if (ev.type == GRPC_QUEUE_TIMEOUT && !cancelled) {
      for (int i = 0; i < n; i++)
        if (calls[i].started_ok && !calls[i].done) grpc_call_cancel(calls[i].call, NULL);
      cancelled = true;
    } else {
      break;
    }
  }
  for (int i = 0; i < n; i++) {
    pending_call *pc = &calls[i];
    if (pc->call) {
      classify(&checks[i], pc);
    } else {
      checks[i].status = METRO__MANAGEMENT__V1__INSTANCE_STATUS__UNREACHABLE;
      put_text(&checks[i], "INTERNAL", "no channel");
    }
    if (pc->send) grpc_byte_buffer_destroy(pc->send);
    if (pc->recv) grpc_byte_buffer_destroy(pc->recv);
    grpc_slice_unref(pc->details);
    grpc_metadata_array_destroy(&pc->initial);
    grpc_metadata_array_destroy(&pc->trailers);
    if (pc->call) grpc_call_unref(pc->call);
  }
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  free(calls);
  drop_unused(p);
}

void mgmt_prober_destroy(mgmt_prober *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) {
    grpc_channel_destroy(p->chans[i].channel);
    free(p->chans[i].address);
  }
  free(p->chans);
  free(p);
  grpc_shutdown();
}
