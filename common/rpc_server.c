/* The gRPC server runtime on the C core: one notification queue polled by a pool of
 * workers, each call bound to its own pluck queue and served synchronously start to end. */
#include "common/rpc_server.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/descset.h"
#include "common/grpc_runtime.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/rpc_metrics.h"
#include "common/rpc_server_internal.h"

#define SLOTS_PER_METHOD 2
#define MAX_STREAM_THREADS 64 /* concurrent reflection streams, each on its own thread */
#define DEFAULT_MAX_MESSAGE (4u << 20)
#define HEALTH_MAX_SERVICES 32

/* One outstanding request for a call: what the core fills in when a call arrives. */
typedef struct call_slot {
  rpc_registered_method *method; /* NULL for the catch-all (unknown methods) slot */
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array metadata;
  grpc_byte_buffer *payload;
  grpc_call_details details; /* catch-all slot only */
  grpc_completion_queue *call_cq;
  struct call_slot *next_free;
} call_slot;

typedef struct health_entry {
  char name[128];
  bool serving;
} health_entry;

struct rpc_server {
  rpc_server_config cfg;
  grpc_server *server;
  grpc_completion_queue *cq;
  pthread_t *workers;
  int n_workers;
  rpc_registered_method *methods;
  int n_methods;
  descset *desc;
  int port;
  atomic_bool stopping;
  bool stop_requested, shutdown_done;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int shutdown_tag;
  health_entry health[HEALTH_MAX_SERVICES];
  int n_health;
  int stream_threads; /* under lock: threads serving streaming calls */
  pthread_mutex_t slots_lock;
  call_slot *free_slots; /* served slots kept with their queue for the next request (slot_recycle) */
  int n_free_slots;
  rpc_method_metrics **method_metrics; /* per method, in the order of methods */
  metric_family *m_inflight;
};

/* ---- small helpers ---- */

static const char *metadata_get(arena *a, const grpc_metadata_array *md, const char *key, size_t max_len) {
  for (size_t i = 0; i < md->count; i++) {
    const grpc_slice k = md->metadata[i].key;
    if (GRPC_SLICE_LENGTH(k) == strlen(key) && memcmp(GRPC_SLICE_START_PTR(k), key, GRPC_SLICE_LENGTH(k)) == 0) {
      size_t len = GRPC_SLICE_LENGTH(md->metadata[i].value);
      if (len > max_len) return NULL;
      return arena_strndup(a, (const char *)GRPC_SLICE_START_PTR(md->metadata[i].value), len);
    }
  }
  return NULL;
}

char *rpc_new_request_id(arena *a) {
  char *id = arena_alloc(a, CRYPTO_UUID_LEN + 1);
  crypto_id_uuid_v4(id);
  return id;
}

/* Printable ASCII only, bounded: a request id or traceparent that is not is dropped. */
static bool header_token_ok(const char *s, size_t max) {
  size_t n = 0;
  for (; s[n]; n++)
    if (n >= max || s[n] < 0x21 || s[n] > 0x7e) return false;
  return n > 0;
}

bool rpc_caller_has_role(const rpc_ctx *ctx, const char *role) {
  for (int i = 0; i < ctx->caller.n_roles; i++)
    if (strcmp(ctx->caller.roles[i], role) == 0 || strcmp(ctx->caller.roles[i], "admin") == 0) return true;
  return false;
}

void rpc_block_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ---- batches on a call's own queue ---- */

bool rpc_call_run_batch(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, size_t n) {
  int tag = 0;
  if (grpc_call_start_batch(call, ops, n, &tag, NULL) != GRPC_CALL_OK) return false;
  grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

bool rpc_byte_buffer_read(arena *a, grpc_byte_buffer *bb, size_t max, uint8_t **data, size_t *len) {
  /* Straight from the message's slices into the arena: one copy, not readall's and then ours.
   * The reader decompresses, so the length is summed from its slices (a first pass), not taken
   * from the buffer. */
  grpc_byte_buffer_reader reader;
  grpc_slice *slice;
  size_t total = 0, at = 0;
  if (!grpc_byte_buffer_reader_init(&reader, bb)) return false;
  while (grpc_byte_buffer_reader_peek(&reader, &slice)) total += GRPC_SLICE_LENGTH(*slice);
  grpc_byte_buffer_reader_destroy(&reader);
  if (total > max || !grpc_byte_buffer_reader_init(&reader, bb)) return false;
  uint8_t *out = arena_alloc(a, total ? total : 1);
  while (grpc_byte_buffer_reader_peek(&reader, &slice) && GRPC_SLICE_LENGTH(*slice) <= total - at) {
    memcpy(out + at, GRPC_SLICE_START_PTR(*slice), GRPC_SLICE_LENGTH(*slice));
    at += GRPC_SLICE_LENGTH(*slice);
  }
  grpc_byte_buffer_reader_destroy(&reader);
  *data = out;
  *len = total;
  return at == total;
}

grpc_byte_buffer *rpc_pack_message(const ProtobufCMessage *msg) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  grpc_slice slice = grpc_slice_malloc(len);
  protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return bb;
}

/* Sends the final status (with grpc-status-details-bin on errors) and, when given, one
 * response message and the initial metadata; then waits for the client's close. */
bool rpc_call_finish(arena *a, grpc_call *call, grpc_completion_queue *cq, rpc_status st,
                     const ProtobufCMessage *response, bool send_initial_metadata) {
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (send_initial_metadata) {
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    n++;
  }
  grpc_byte_buffer *bb = NULL;
  if (rpc_ok(st) && response) {
    bb = rpc_pack_message(response);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    n++;
  }
  grpc_metadata trailer;
  grpc_slice details_slice = grpc_empty_slice();
  grpc_slice message = grpc_slice_from_copied_string(st.message ? st.message : "");
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = st.code;
  ops[n].data.send_status_from_server.status_details = &message;
  if (!rpc_ok(st)) {
    size_t len;
    uint8_t *bytes = rpc_status_to_details(a, st, &len);
    details_slice = grpc_slice_from_copied_buffer((const char *)bytes, len);
    trailer.key = grpc_slice_from_static_string("grpc-status-details-bin");
    trailer.value = details_slice;
    ops[n].data.send_status_from_server.trailing_metadata_count = 1;
    ops[n].data.send_status_from_server.trailing_metadata = &trailer;
  }
  n++;
  int cancelled = 0;
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n].data.recv_close_on_server.cancelled = &cancelled;
  n++;
  bool ok = rpc_call_run_batch(call, cq, ops, n);
  if (bb) grpc_byte_buffer_destroy(bb);
  grpc_slice_unref(message);
  grpc_slice_unref(details_slice);
  return ok && !cancelled;
}

/* ---- slots ---- */

#define MAX_FREE_SLOTS 64

/* A slot from the free list, or a new one with its own pluck queue. */
static call_slot *slot_take(rpc_server *s) {
  pthread_mutex_lock(&s->slots_lock);
  call_slot *slot = s->free_slots;
  if (slot) {
    s->free_slots = slot->next_free;
    s->n_free_slots--;
  }
  pthread_mutex_unlock(&s->slots_lock);
  if (slot) return slot;
  slot = calloc(1, sizeof *slot);
  if (!slot) abort();
  slot->call_cq = grpc_completion_queue_create_for_pluck(NULL);
  return slot;
}

static void slot_post(rpc_server *s, rpc_registered_method *m) {
  call_slot *slot = slot_take(s);
  slot->method = m;
  grpc_metadata_array_init(&slot->metadata);
  grpc_call_error err;
  if (m) {
    err = grpc_server_request_registered_call(s->server, m->handle, &slot->call, &slot->deadline, &slot->metadata,
                                              m->kind == RPC_KIND_UNARY ? &slot->payload : NULL, slot->call_cq,
                                              s->cq, slot);
  } else {
    grpc_call_details_init(&slot->details);
    err = grpc_server_request_call(s->server, &slot->call, &slot->details, &slot->metadata, slot->call_cq, s->cq,
                                   slot);
  }
  if (err != GRPC_CALL_OK) {
    log_error("grpc request call failed: %d", (int)err);
    abort();
  }
}

/* Releases what the served call held, leaving the slot and its queue reusable. */
static void slot_clear(call_slot *slot) {
  if (slot->call) grpc_call_unref(slot->call);
  if (slot->payload) grpc_byte_buffer_destroy(slot->payload);
  grpc_metadata_array_destroy(&slot->metadata);
  if (!slot->method) grpc_call_details_destroy(&slot->details);
  grpc_completion_queue *cq = slot->call_cq;
  memset(slot, 0, sizeof *slot);
  slot->call_cq = cq;
}

static void slot_destroy(call_slot *slot) {
  grpc_completion_queue_shutdown(slot->call_cq);
  while (grpc_completion_queue_pluck(slot->call_cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(slot->call_cq);
  free(slot);
}

static void slot_free(call_slot *slot) {
  slot_clear(slot);
  slot_destroy(slot);
}

/* After a unary call has ended (every batch plucked): the slot goes back to the free list, so the
 * next request does not create and destroy a completion queue. */
static void slot_recycle(rpc_server *s, call_slot *slot) {
  slot_clear(slot);
  pthread_mutex_lock(&s->slots_lock);
  bool keep = s->n_free_slots < MAX_FREE_SLOTS && !atomic_load(&s->stopping);
  if (keep) {
    slot->next_free = s->free_slots;
    s->free_slots = slot;
    s->n_free_slots++;
  }
  pthread_mutex_unlock(&s->slots_lock);
  if (!keep) slot_destroy(slot);
}

/* ---- serving one call ---- */

static void ctx_init(rpc_server *s, call_slot *slot, arena *a, rpc_ctx *ctx) {
  memset(ctx, 0, sizeof *ctx);
  ctx->arena = a;
  ctx->alloc = arena_protobuf_allocator(a);
  ctx->state = s->cfg.state;
  ctx->method = slot->method ? slot->method->path : "unknown";
  const char *rid = metadata_get(a, &slot->metadata, "x-request-id", 128);
  ctx->request_id = rid && header_token_ok(rid, 128) ? rid : rpc_new_request_id(a);
  const char *tp = metadata_get(a, &slot->metadata, "traceparent", 128);
  ctx->traceparent = tp && header_token_ok(tp, 128) ? tp : NULL;
  ctx->idempotency_key = metadata_get(a, &slot->metadata, "idempotency-key", 4096);
  /* The client address: only the gateway's signed pair is believed (never x-forwarded-for,
   * which any direct caller can send); otherwise the caller is the client, at its peer address. */
  const char *ipv = metadata_get(a, &slot->metadata, CLIENT_IP_HEADER, 128);
  const char *ips = metadata_get(a, &slot->metadata, CLIENT_IP_SIG_HEADER, 128);
  if (ipv && ips && s->cfg.identity_secret &&
      client_ip_verify(a, s->cfg.identity_secret, ipv, ips, clock_real_ms() / 1000, &ctx->client_ip)) {
    ctx->client_ip_value = ipv;
    ctx->client_ip_sig = ips;
  } else {
    char *peer = grpc_call_get_peer(slot->call);
    ctx->client_ip = client_ip_from_peer(a, peer);
    gpr_free(peer);
  }
  const char *idv = metadata_get(a, &slot->metadata, IDENTITY_HEADER, 1024);
  const char *ids = metadata_get(a, &slot->metadata, IDENTITY_SIG_HEADER, 256);
  if (idv && ids && s->cfg.identity_secret &&
      identity_verify(a, s->cfg.identity_secret, idv, ids, clock_real_ms() / 1000, &ctx->caller)) {
    ctx->identity_raw = idv;
    ctx->identity_sig = ids;
  }
  gpr_timespec deadline = gpr_convert_clock_type(slot->deadline, GPR_CLOCK_REALTIME);
  int64_t client_deadline = gpr_time_cmp(deadline, gpr_inf_future(GPR_CLOCK_REALTIME)) == 0
                                ? INT64_MAX
                                : (int64_t)deadline.tv_sec * 1000 + deadline.tv_nsec / 1000000;
  int cap_ms = slot->method && slot->method->timeout_ms ? slot->method->timeout_ms : s->cfg.default_timeout_ms;
  int64_t cap = cap_ms > 0 ? clock_real_ms() + cap_ms : INT64_MAX;
  ctx->deadline_ms = client_deadline < cap ? client_deadline : cap;
}

static rpc_status check_access(const rpc_registered_method *m, const rpc_ctx *ctx) {
  if (m->access_public) return RPC_OK;
  if (!ctx->caller.user_id)
    return (rpc_status){.code = GRPC_STATUS_UNAUTHENTICATED, .message = "authentication required",
                        .reason = "UNAUTHENTICATED"};
  if (m->n_roles == 0) return RPC_OK;
  for (int i = 0; i < m->n_roles; i++)
    if (rpc_caller_has_role(ctx, m->roles[i])) return RPC_OK;
  return (rpc_status){.code = GRPC_STATUS_PERMISSION_DENIED, .message = "this method needs another role",
                      .reason = "PERMISSION_DENIED"};
}

static rpc_status serve_unary(rpc_server *s, call_slot *slot, rpc_ctx *ctx, ProtobufCMessage **response) {
  rpc_registered_method *m = slot->method;
  if (!slot->payload) /* the client went away before its request arrived */
    return (rpc_status){.code = GRPC_STATUS_CANCELLED, .message = "cancelled before the request arrived",
                        .reason = "CANCELLED"};
  uint8_t *data;
  size_t len;
  if (!rpc_byte_buffer_read(ctx->arena, slot->payload, s->cfg.max_message_bytes, &data, &len))
    return (rpc_status){.code = GRPC_STATUS_RESOURCE_EXHAUSTED, .message = "request message too large",
                        .reason = "PAYLOAD_TOO_LARGE"};
  ProtobufCMessage *request = protobuf_c_message_unpack(m->input, &ctx->alloc, len, data);
  if (!request)
    return (rpc_status){.code = GRPC_STATUS_INVALID_ARGUMENT, .message = "request is not a valid protobuf message",
                        .reason = "MALFORMED_REQUEST"};
  rpc_status st = check_access(m, ctx);
  if (!rpc_ok(st)) return st;
  if (ctx->deadline_ms != INT64_MAX && clock_real_ms() >= ctx->deadline_ms)
    return (rpc_status){.code = GRPC_STATUS_DEADLINE_EXCEEDED, .message = "deadline exceeded before start",
                        .reason = "DEADLINE_EXCEEDED"};
  *response = NULL;
  st = m->handler(ctx, request, response);
  if (rpc_ok(st) && (!*response || (*response)->descriptor != m->output))
    return rpc_internal(m->path); /* a handler bug: no or wrong response type */
  return st;
}

static void serve_call(rpc_server *s, call_slot *slot) {
  double started = clock_mono_seconds();
  rpc_method_metrics *mm = slot->method ? s->method_metrics[slot->method - s->methods]
                                        : rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_UNARY, "unknown");
  rpc_metrics_started(mm);
  arena *a = arena_create(8192);
  rpc_ctx ctx;
  ctx_init(s, slot, a, &ctx);
  log_set_context(ctx.request_id, ctx.traceparent);
  rpc_status st;
  if (!slot->method) {
    st = (rpc_status){.code = GRPC_STATUS_UNIMPLEMENTED, .message = "unknown method", .reason = "UNIMPLEMENTED"};
    rpc_call_finish(a, slot->call, slot->call_cq, st, NULL, true);
  } else if (slot->method->kind == RPC_KIND_UNARY) {
    ProtobufCMessage *response = NULL;
    if (slot->payload) rpc_metrics_msg_received(mm);
    st = serve_unary(s, slot, &ctx, &response);
    rpc_call_finish(a, slot->call, slot->call_cq, st, response, true);
    if (rpc_ok(st) && response) rpc_metrics_msg_sent(mm);
  } else { /* health and reflection count their own messages */
    st = rpc_builtin_serve(s, slot->method, slot->call, slot->call_cq, &ctx);
  }
  rpc_metrics_handled(mm, st.code, clock_mono_seconds() - started);
  const char *label = slot->method ? slot->method->path : "unknown";
  if (st.code == GRPC_STATUS_INTERNAL || st.code == GRPC_STATUS_UNKNOWN || st.code == GRPC_STATUS_DATA_LOSS)
    log_error("%s -> %s: %s", label, rpc_code_name(st.code), st.message ? st.message : "");
  else
    log_debug("%s -> %s", label, rpc_code_name(st.code));
  log_set_context(NULL, NULL);
  arena_destroy(a);
}

/* A streaming call (reflection) lives as long as its client wants: it gets a thread of
 * its own so it never holds a worker that unary calls need. grpcurl, for one, keeps its
 * reflection stream open while it makes the call it came for. */
typedef struct stream_job {
  rpc_server *s;
  call_slot *slot;
} stream_job;

static void *stream_main(void *arg) {
  stream_job *job = arg;
  rpc_server *s = job->s;
  serve_call(s, job->slot);
  slot_free(job->slot);
  free(job);
  pthread_mutex_lock(&s->lock);
  s->stream_threads--;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

static bool serve_stream_on_own_thread(rpc_server *s, call_slot *slot) {
  pthread_mutex_lock(&s->lock);
  bool room = s->stream_threads < MAX_STREAM_THREADS;
  if (room) s->stream_threads++;
  pthread_mutex_unlock(&s->lock);
  if (!room) return false;
  stream_job *job = malloc(sizeof *job);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  bool started = job && (job->s = s, job->slot = slot, pthread_create(&t, &attr, stream_main, job) == 0);
  pthread_attr_destroy(&attr);
  if (!started) {
    free(job);
    pthread_mutex_lock(&s->lock);
    s->stream_threads--;
    pthread_mutex_unlock(&s->lock);
  }
  return started;
}

static void refuse_stream(call_slot *slot) {
  arena *a = arena_create(1024);
  rpc_status st = {.code = GRPC_STATUS_RESOURCE_EXHAUSTED, .message = "too many open streams",
                   .reason = "RESOURCE_EXHAUSTED"};
  rpc_call_finish(a, slot->call, slot->call_cq, st, NULL, true);
  arena_destroy(a);
}

static void *worker_main(void *arg) {
  rpc_server *s = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type != GRPC_OP_COMPLETE) continue;
    if (ev.tag == &s->shutdown_tag) {
      pthread_mutex_lock(&s->lock);
      s->shutdown_done = true;
      pthread_cond_broadcast(&s->cond);
      pthread_mutex_unlock(&s->lock);
      continue;
    }
    call_slot *slot = ev.tag;
    if (!ev.success) { /* the server is shutting down and this request was never matched */
      slot_free(slot);
      continue;
    }
    if (!atomic_load(&s->stopping)) slot_post(s, slot->method);
    if (slot->method && slot->method->kind == RPC_KIND_REFLECTION) {
      if (serve_stream_on_own_thread(s, slot)) continue;
      refuse_stream(slot);
      slot_free(slot);
      continue;
    }
    metrics_add(s->m_inflight, NULL, NULL, 1);
    serve_call(s, slot);
    metrics_add(s->m_inflight, NULL, NULL, -1);
    slot_recycle(s, slot);
  }
  if (s->cfg.on_worker_exit) s->cfg.on_worker_exit();
  return NULL;
}

/* ---- start-up ---- */

/* go-grpc-middleware's grpc_type of a method. */
static const char *method_type(const rpc_registered_method *m) {
  return m->kind == RPC_KIND_REFLECTION ? RPC_TYPE_BIDI_STREAM : RPC_TYPE_UNARY;
}

static bool add_method(rpc_server *s, const char *path, rpc_method_kind kind, const ProtobufCMessageDescriptor *in,
                       const ProtobufCMessageDescriptor *out, rpc_handler_fn fn, int timeout_ms, char *err,
                       size_t errlen) {
  rpc_registered_method *m = &s->methods[s->n_methods];
  memset(m, 0, sizeof *m);
  m->path = strdup(path);
  m->kind = kind;
  m->input = in;
  m->output = out;
  m->handler = fn;
  m->timeout_ms = timeout_ms;
  const descset_method *dm = descset_find_method(s->desc, path);
  if (!dm && kind == RPC_KIND_UNARY) {
    snprintf(err, errlen, "method %s is not in the descriptor set", path);
    return false;
  }
  if (dm) {
    m->access_public = dm->access_public;
    m->roles = dm->roles;
    m->n_roles = dm->n_roles;
  }
  if (kind != RPC_KIND_UNARY) m->access_public = true; /* health and reflection are open */
  m->handle = grpc_server_register_method(
      s->server, m->path, NULL,
      kind == RPC_KIND_UNARY ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER : GRPC_SRM_PAYLOAD_NONE, 0);
  if (!m->handle) {
    snprintf(err, errlen, "cannot register %s", path);
    return false;
  }
  s->n_methods++;
  return true;
}

static bool register_service(rpc_server *s, const rpc_service_impl *svc, char *err, size_t errlen) {
  const ProtobufCServiceDescriptor *d = svc->descriptor;
  for (unsigned i = 0; i < d->n_methods; i++) {
    const ProtobufCMethodDescriptor *md = &d->methods[i];
    const rpc_method_impl *impl = NULL;
    for (size_t k = 0; k < svc->n_methods; k++)
      if (strcmp(svc->methods[k].name, md->name) == 0) impl = &svc->methods[k];
    if (!impl || !impl->handler) {
      snprintf(err, errlen, "%s.%s has no handler", d->name, md->name);
      return false;
    }
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", d->name, md->name);
    if (!add_method(s, path, RPC_KIND_UNARY, md->input, md->output, impl->handler, impl->timeout_ms, err, errlen))
      return false;
  }
  for (size_t k = 0; k < svc->n_methods; k++) {
    bool found = false;
    for (unsigned i = 0; i < d->n_methods; i++) found |= strcmp(svc->methods[k].name, d->methods[i].name) == 0;
    if (!found) {
      snprintf(err, errlen, "%s has no method %s", d->name, svc->methods[k].name);
      return false;
    }
  }
  return true;
}

rpc_server *rpc_server_start(const rpc_server_config *cfg, char *err, size_t errlen) {
  rpc_server *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->cfg = *cfg;
  if (!s->cfg.max_message_bytes) s->cfg.max_message_bytes = DEFAULT_MAX_MESSAGE;
  if (s->cfg.workers <= 0) s->cfg.workers = 2 * (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (s->cfg.drain_timeout_ms <= 0) s->cfg.drain_timeout_ms = 10000;
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->slots_lock, NULL);
  pthread_cond_init(&s->cond, NULL);

  const uint8_t *sets[1] = {cfg->descriptor_set};
  size_t lens[1] = {cfg->descriptor_set_len};
  s->desc = descset_load(sets, lens, 1, err, errlen);
  if (!s->desc) goto fail_early;

  grpc_runtime_init();
  grpc_arg args[2] = {
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
       .value.integer = (int)s->cfg.max_message_bytes},
      {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ALLOW_REUSEPORT, .value.integer = 0},
  };
  grpc_channel_args channel_args = {.num_args = 2, .args = args};
  s->server = grpc_server_create(&channel_args, NULL);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(s->server, s->cq, NULL);

  size_t total = RPC_BUILTIN_METHODS;
  for (size_t i = 0; i < cfg->n_services; i++) total += cfg->services[i].descriptor->n_methods;
  s->methods = calloc(total, sizeof *s->methods);
  for (size_t i = 0; i < cfg->n_services; i++)
    if (!register_service(s, &cfg->services[i], err, errlen)) goto fail;
  if (!rpc_builtin_register(s, err, errlen)) goto fail;

  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  s->port = grpc_server_add_http2_port(s->server, cfg->listen_addr, creds);
  grpc_server_credentials_release(creds);
  if (s->port == 0) {
    snprintf(err, errlen, "cannot listen on %s", cfg->listen_addr);
    goto fail;
  }

  /* Every method's series exist (at zero) from the start, as go-grpc-middleware's do. */
  s->method_metrics = calloc((size_t)(s->n_methods ? s->n_methods : 1), sizeof *s->method_metrics);
  if (!s->method_metrics) abort();
  for (int i = 0; i < s->n_methods; i++)
    s->method_metrics[i] = rpc_method_metrics_get(RPC_METRICS_SERVER, method_type(&s->methods[i]),
                                                  s->methods[i].path);
  s->m_inflight = metrics_gauge("metro_grpc_server_inflight_calls", "gRPC calls being served (streams excepted).",
                                NULL, NULL);

  grpc_server_start(s->server);
  rpc_server_set_health(s, "", true);
  for (size_t i = 0; i < cfg->n_services; i++) rpc_server_set_health(s, cfg->services[i].descriptor->name, true);
  for (int i = 0; i < s->n_methods; i++)
    for (int k = 0; k < SLOTS_PER_METHOD; k++) slot_post(s, &s->methods[i]);
  for (int k = 0; k < SLOTS_PER_METHOD; k++) slot_post(s, NULL);

  s->n_workers = s->cfg.workers;
  s->workers = calloc((size_t)s->n_workers, sizeof(pthread_t));
  for (int i = 0; i < s->n_workers; i++) pthread_create(&s->workers[i], NULL, worker_main, s);
  log_info("gRPC server for %s listening on %s (port %d, %d workers)", cfg->service_name, cfg->listen_addr, s->port,
           s->n_workers);
  return s;

fail:
  grpc_server_destroy(s->server);
  grpc_completion_queue_shutdown(s->cq);
  grpc_completion_queue_destroy(s->cq);
  for (int i = 0; i < s->n_methods; i++) free((char *)s->methods[i].path);
  free(s->methods);
  grpc_shutdown();
fail_early:
  if (s->desc) descset_free(s->desc);
  free(s);
  return NULL;
}

/* ---- shutdown ---- */

int rpc_wait_for_signal(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  log_info("received signal %d, draining", sig);
  return sig;
}

static void *signal_waiter(void *arg) {
  rpc_wait_for_signal();
  rpc_server_stop(arg);
  return NULL;
}

void rpc_server_stop(rpc_server *s) {
  pthread_mutex_lock(&s->lock);
  s->stop_requested = true;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

void rpc_server_wait(rpc_server *s) {
  pthread_t waiter;
  pthread_create(&waiter, NULL, signal_waiter, s);
  pthread_detach(waiter);

  pthread_mutex_lock(&s->lock);
  while (!s->stop_requested) pthread_cond_wait(&s->cond, &s->lock);
  pthread_mutex_unlock(&s->lock);

  atomic_store(&s->stopping, true);
  for (int i = 0; i < s->n_health; i++) s->health[i].serving = false;
  grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);

  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += s->cfg.drain_timeout_ms / 1000;
  until.tv_nsec += (long)(s->cfg.drain_timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&s->lock);
  int rc = 0;
  while (!s->shutdown_done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&s->cond, &s->lock, &until);
  bool drained = s->shutdown_done;
  pthread_mutex_unlock(&s->lock);
  if (!drained) {
    log_warn("drain timeout of %d ms reached, cancelling the calls still running", s->cfg.drain_timeout_ms);
    grpc_server_cancel_all_calls(s->server);
    pthread_mutex_lock(&s->lock);
    while (!s->shutdown_done) pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
  }
  /* Every call has ended (the shutdown tag says so); stream threads finish their clean-up. */
  pthread_mutex_lock(&s->lock);
  while (s->stream_threads > 0) pthread_cond_wait(&s->cond, &s->lock);
  pthread_mutex_unlock(&s->lock);
  grpc_completion_queue_shutdown(s->cq);
  for (int i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
  log_info("gRPC server stopped%s", drained ? " after draining" : "");
}

void rpc_server_destroy(rpc_server *s) {
  if (!s) return;
  grpc_server_destroy(s->server);
  grpc_completion_queue_destroy(s->cq);
  for (int i = 0; i < s->n_methods; i++) free((char *)s->methods[i].path);
  free(s->methods);
  free(s->method_metrics);
  free(s->workers);
  descset_free(s->desc);
  while (s->free_slots) {
    call_slot *next = s->free_slots->next_free;
    slot_destroy(s->free_slots);
    s->free_slots = next;
  }
  pthread_mutex_destroy(&s->slots_lock);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->cond);
  free(s);
  grpc_shutdown();
}

int rpc_server_port(const rpc_server *s) { return s->port; }

/* ---- state shared with the built-in services (rpc_builtin.c) ---- */

void rpc_server_set_health(rpc_server *s, const char *service, bool serving) {
  pthread_mutex_lock(&s->lock);
  for (int i = 0; i < s->n_health; i++)
    if (strcmp(s->health[i].name, service) == 0) {
      s->health[i].serving = serving && !atomic_load(&s->stopping);
      pthread_mutex_unlock(&s->lock);
      return;
    }
  if (s->n_health < HEALTH_MAX_SERVICES) {
    snprintf(s->health[s->n_health].name, sizeof s->health[0].name, "%s", service);
    s->health[s->n_health++].serving = serving;
  }
  pthread_mutex_unlock(&s->lock);
}

int rpc_server_health(rpc_server *s, const char *service) {
  int result = -1;
  pthread_mutex_lock(&s->lock);
  for (int i = 0; i < s->n_health; i++)
    if (strcmp(s->health[i].name, service) == 0) result = s->health[i].serving && !atomic_load(&s->stopping);
  pthread_mutex_unlock(&s->lock);
  return result;
}

bool rpc_server_add_builtin(rpc_server *s, const char *path, rpc_method_kind kind,
                            const ProtobufCMessageDescriptor *in, const ProtobufCMessageDescriptor *out, char *err,
                            size_t errlen) {
  return add_method(s, path, kind, in, out, NULL, 0, err, errlen);
}

const descset *rpc_server_descset(const rpc_server *s) { return s->desc; }

int rpc_server_service_names(const rpc_server *s, const char **names, int max) {
  int n = 0;
  for (size_t i = 0; i < s->cfg.n_services && n < max; i++) names[n++] = s->cfg.services[i].descriptor->name;
  static const char *const builtin[] = {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                                        "grpc.reflection.v1alpha.ServerReflection"};
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0] && n < max; i++) names[n++] = builtin[i];
  return n;
}

size_t rpc_server_max_message(const rpc_server *s) { return s->cfg.max_message_bytes; }
