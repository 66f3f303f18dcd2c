/* Unary gRPC calls on the C core: cached channels per target, deadlines, metadata
 * propagation, peer errors turned back into rpc_status (reason included), grpc_client_* metrics. */
#include "common/rpc_client.h"

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/grpc_runtime.h"
#include "common/identity.h"
#include "common/rpc_client_internal.h"
#include "common/rpc_metrics.h"
#include "common/rpc_server_internal.h"

#define MAX_CHANNELS 64
#define MAX_RESPONSE_BYTES (16u << 20)

struct rpc_channel {
  char *target;
  bool own_retries;
  grpc_channel *channel;
};

static pthread_mutex_t channels_lock = PTHREAD_MUTEX_INITIALIZER;
static rpc_channel channels[MAX_CHANNELS];
static int n_channels;

static rpc_channel *channel_get(const char *target, bool own_retries) {
  pthread_mutex_lock(&channels_lock);
  for (int i = 0; i < n_channels; i++)
    if (channels[i].own_retries == own_retries && strcmp(channels[i].target, target) == 0) {
      pthread_mutex_unlock(&channels_lock);
      return &channels[i];
    }
  rpc_channel *ch = NULL;
  if (n_channels < MAX_CHANNELS) {
    grpc_runtime_init();
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    /* round_robin: with a DNS name resolving to several pods (a headless Service), calls
     * spread over all of them instead of sticking to the first connection. Without gRPC's
     * retry layer when the caller retries for itself: that layer copies every call's messages
     * for a retry that may never come, about 10 µs of the gateway's 37 per GetJwks. */
    grpc_arg args[3] = {{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                         .value.integer = (int)MAX_RESPONSE_BYTES},
                        {.type = GRPC_ARG_STRING, .key = GRPC_ARG_SERVICE_CONFIG,
                         .value.string = "{\"loadBalancingConfig\": [{\"round_robin\": {}}]}"},
                        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_RETRIES, .value.integer = !own_retries}};
    grpc_channel_args channel_args = {.num_args = 3, .args = args};
    ch = &channels[n_channels++];
    ch->target = strdup(target);
    ch->own_retries = own_retries;
    ch->channel = grpc_channel_create(target, creds, &channel_args);
    grpc_channel_credentials_release(creds);
  }
  pthread_mutex_unlock(&channels_lock);
  return ch;
}

rpc_channel *rpc_channel_get(const char *target) { return channel_get(target, false); }

rpc_channel *rpc_channel_get_own_retries(const char *target) { return channel_get(target, true); }

grpc_channel *rpc_channel_raw(rpc_channel *ch) { return ch->channel; }

void rpc_client_shutdown(void) {
  pthread_mutex_lock(&channels_lock);
  for (int i = 0; i < n_channels; i++) {
    grpc_channel_destroy(channels[i].channel);
    free(channels[i].target);
    grpc_shutdown();
  }
  n_channels = 0;
  pthread_mutex_unlock(&channels_lock);
}

rpc_call_meta rpc_meta_from_ctx(const rpc_ctx *ctx) {
  return (rpc_call_meta){.request_id = ctx->request_id,
                         .traceparent = ctx->traceparent,
                         .identity_raw = ctx->identity_raw,
                         .identity_sig = ctx->identity_sig,
                         .client_ip_value = ctx->client_ip_value,
                         .client_ip_sig = ctx->client_ip_sig};
}

static const char *service_identity_secret;

void rpc_client_set_identity_secret(const char *secret) { service_identity_secret = secret; }

rpc_call_meta rpc_meta_as_service(const rpc_ctx *ctx, const char *service) {
  return rpc_meta_as_service_roles(ctx, service, NULL, 0);
}

/* Signs "service:<service>" with {"service", extra roles...} into meta. */
static void sign_service_identity(arena *a, rpc_call_meta *meta, const char *service, const char *const *extra_roles,
                                  int n_extra) {
  enum { SERVICE_IDENTITY_TTL_S = 60 };
  meta->identity_raw = meta->identity_sig = NULL;
  const char *roles[RPC_MAX_ROLES] = {"service"};
  int n = 1;
  for (int i = 0; i < n_extra && n < RPC_MAX_ROLES; i++) roles[n++] = extra_roles[i];
  if (service_identity_secret)
    identity_sign(a, service_identity_secret, arena_printf(a, "service:%s", service), roles, n,
                  (int64_t)time(NULL) + SERVICE_IDENTITY_TTL_S, &meta->identity_raw, &meta->identity_sig);
}

rpc_call_meta rpc_meta_as_service_roles(const rpc_ctx *ctx, const char *service, const char *const *extra_roles,
                                        int n_extra) {
  rpc_call_meta meta = rpc_meta_from_ctx(ctx);
  sign_service_identity(ctx->arena, &meta, service, extra_roles, n_extra);
  return meta;
}

rpc_call_meta rpc_meta_service(arena *a, const char *service) {
  rpc_call_meta meta = {0};
  sign_service_identity(a, &meta, service, NULL, 0);
  return meta;
}

size_t rpc_meta_build(const rpc_call_meta *meta, grpc_metadata *md) {
  /* Never x-forwarded-for: the client address travels only in its signed pair. */
  static const char *const keys[RPC_META_MAX] = {"x-request-id", "traceparent", IDENTITY_HEADER, IDENTITY_SIG_HEADER,
                                                  CLIENT_IP_HEADER, CLIENT_IP_SIG_HEADER, "idempotency-key"};
  const char *values[RPC_META_MAX] = {meta->request_id, meta->traceparent, meta->identity_raw, meta->identity_sig,
                                      meta->client_ip_value, meta->client_ip_sig, meta->idempotency_key};
  size_t n = 0;
  for (size_t i = 0; i < RPC_META_MAX; i++) {
    if (!values[i] || !values[i][0]) continue;
    memset(&md[n], 0, sizeof md[n]);
    md[n].key = grpc_slice_from_static_string(keys[i]);
    md[n].value = grpc_slice_from_copied_string(values[i]);
    n++;
  }
  return n;
}

void rpc_meta_release(grpc_metadata *md, size_t n) {
  for (size_t i = 0; i < n; i++) grpc_slice_unref(md[i].value);
}

void rpc_unary_ops(grpc_op ops[6], const rpc_unary_io *io) {
  memset(ops, 0, sizeof(grpc_op) * 6);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = io->n_md;
  ops[0].data.send_initial_metadata.metadata = io->md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = io->send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = io->initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = io->recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = io->trailers;
  ops[5].data.recv_status_on_client.status = io->code;
  ops[5].data.recv_status_on_client.status_details = io->details;
}

gpr_timespec rpc_deadline(int timeout_ms, int64_t deadline_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  int64_t until = timeout_ms > 0 ? now + timeout_ms : INT64_MAX;
  if (deadline_ms < until) until = deadline_ms;
  if (until == INT64_MAX) return gpr_inf_future(GPR_CLOCK_REALTIME);
  gpr_timespec t = {.tv_sec = until / 1000, .tv_nsec = (int32_t)((until % 1000) * 1000000), .clock_type = GPR_CLOCK_REALTIME};
  return t;
}

rpc_status rpc_status_from_call(arena *a, grpc_status_code code, grpc_slice details,
                                const grpc_metadata_array *trailers) {
  rpc_status st = {.code = code};
  st.message = arena_strndup(a, (const char *)GRPC_SLICE_START_PTR(details), GRPC_SLICE_LENGTH(details));
  for (size_t i = 0; i < trailers->count; i++) {
    grpc_slice k = trailers->metadata[i].key;
    if (GRPC_SLICE_LENGTH(k) == 23 && memcmp(GRPC_SLICE_START_PTR(k), "grpc-status-details-bin", 23) == 0) {
      rpc_status rich;
      memset(&rich, 0, sizeof rich);
      grpc_slice v = trailers->metadata[i].value;
      if (rpc_status_from_details(a, GRPC_SLICE_START_PTR(v), GRPC_SLICE_LENGTH(v), &rich) && rich.code == code) {
        st.reason = rich.reason;
        st.field = rich.field;
        st.retry_after = rich.retry_after;
      }
    }
  }
  if (code != GRPC_STATUS_OK && !st.reason) st.reason = rpc_code_name(code);
  return st;
}

rpc_status rpc_call_unary(rpc_channel *ch, arena *a, const char *method, const rpc_call_meta *meta,
                          const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                          ProtobufCMessage **response, int timeout_ms, int64_t deadline_ms) {
  double started = clock_mono_seconds();
  rpc_method_metrics *mm = rpc_method_metrics_get(RPC_METRICS_CLIENT, RPC_TYPE_UNARY, method);
  rpc_metrics_started(mm);
  if (!ch) {
    rpc_metrics_handled(mm, GRPC_STATUS_UNAVAILABLE, clock_mono_seconds() - started);
    return (rpc_status){.code = GRPC_STATUS_UNAVAILABLE, .message = "no channel", .reason = "UNAVAILABLE"};
  }
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_slice method_slice = grpc_slice_from_copied_string(method);
  grpc_call *call = grpc_channel_create_call(ch->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method_slice, NULL,
                                             rpc_deadline(timeout_ms, deadline_ms), NULL);
  grpc_metadata md[RPC_META_MAX];
  rpc_call_meta empty = {0};
  size_t n_md = rpc_meta_build(meta ? meta : &empty, md);
  grpc_byte_buffer *send = rpc_pack_message(request);
  grpc_byte_buffer *recv = NULL;
  grpc_metadata_array initial, trailers;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailers);
  grpc_status_code code = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();

  grpc_op ops[6];
  rpc_unary_ops(ops, &(rpc_unary_io){.md = md, .n_md = n_md, .send = send, .recv = &recv, .initial = &initial,
                                     .trailers = &trailers, .code = &code, .details = &details});

  rpc_status st;
  if (!rpc_call_run_batch(call, cq, ops, 6)) {
    st = (rpc_status){.code = GRPC_STATUS_INTERNAL, .message = "call failed", .reason = "INTERNAL"};
  } else {
    rpc_metrics_msg_sent(mm);
    if (recv) rpc_metrics_msg_received(mm);
    st = rpc_status_from_call(a, code, details, &trailers);
    if (rpc_ok(st)) {
      uint8_t *data;
      size_t len;
      ProtobufCAllocator alloc = arena_protobuf_allocator(a);
      if (!recv || !rpc_byte_buffer_read(a, recv, MAX_RESPONSE_BYTES, &data, &len) ||
          !(*response = protobuf_c_message_unpack(response_type, &alloc, len, data)))
        st = (rpc_status){.code = GRPC_STATUS_INTERNAL, .message = "malformed response", .reason = "INTERNAL"};
    }
  }
  if (send) grpc_byte_buffer_destroy(send);
  if (recv) grpc_byte_buffer_destroy(recv);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailers);
  rpc_meta_release(md, n_md);
  grpc_call_unref(call);
  grpc_slice_unref(method_slice);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  rpc_metrics_handled(mm, st.code, clock_mono_seconds() - started);
  return st;
}
