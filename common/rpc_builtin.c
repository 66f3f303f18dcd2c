/* The services every Metro gRPC server carries: grpc.health.v1.Health/Check and server
 * reflection (v1 and v1alpha, identical on the wire) so grpcurl works without protos. */
#include <string.h>

#include "common/log.h"
#include "common/rpc_metrics.h"
#include "common/rpc_server_internal.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

#define MAX_FILES_PER_ANSWER 64
#define MAX_REFLECTION_REQUESTS 1000

typedef Grpc__Reflection__V1__ServerReflectionRequest ReflectionRequest;
typedef Grpc__Reflection__V1__ServerReflectionResponse ReflectionResponse;

bool rpc_builtin_register(rpc_server *s, char *err, size_t errlen) {
  return rpc_server_add_builtin(s, "/grpc.health.v1.Health/Check", RPC_KIND_HEALTH_CHECK,
                                &grpc__health__v1__health_check_request__descriptor,
                                &grpc__health__v1__health_check_response__descriptor, err, errlen) &&
         rpc_server_add_builtin(s, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", RPC_KIND_REFLECTION,
                                NULL, NULL, err, errlen) &&
         rpc_server_add_builtin(s, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                RPC_KIND_REFLECTION, NULL, NULL, err, errlen);
}

/* Receives one message on the call; *bb is NULL when the client has half-closed. */
static bool recv_message(grpc_call *call, grpc_completion_queue *cq, grpc_byte_buffer **bb) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = bb;
  *bb = NULL;
  return rpc_call_run_batch(call, cq, &op, 1);
}

static rpc_status serve_health(rpc_server *s, grpc_call *call, grpc_completion_queue *cq, rpc_ctx *ctx,
                               rpc_method_metrics *mm) {
  grpc_byte_buffer *bb = NULL;
  rpc_status st = RPC_OK;
  Grpc__Health__V1__HealthCheckResponse *resp = NULL;
  uint8_t *data;
  size_t len;
  bool received = recv_message(call, cq, &bb) && bb;
  if (received) rpc_metrics_msg_received(mm);
  if (!received) {
    st = (rpc_status){.code = GRPC_STATUS_INVALID_ARGUMENT, .message = "missing request"};
  } else if (!rpc_byte_buffer_read(ctx->arena, bb, 4096, &data, &len)) {
    st = (rpc_status){.code = GRPC_STATUS_INVALID_ARGUMENT, .message = "request too large"};
  } else {
    Grpc__Health__V1__HealthCheckRequest *req = grpc__health__v1__health_check_request__unpack(&ctx->alloc, len, data);
    int health = req ? rpc_server_health(s, req->service ? req->service : "") : -2;
    if (health == -2) {
      st = (rpc_status){.code = GRPC_STATUS_INVALID_ARGUMENT, .message = "malformed request"};
    } else if (health == -1) {
      st = (rpc_status){.code = GRPC_STATUS_NOT_FOUND, .message = "unknown service"};
    } else {
      resp = RPC_NEW(ctx, Grpc__Health__V1__HealthCheckResponse, grpc__health__v1__health_check_response__init);
      resp->status = health ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                            : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    }
  }
  if (bb) grpc_byte_buffer_destroy(bb);
  rpc_call_finish(ctx->arena, call, cq, st, resp ? &resp->base : NULL, true);
  if (resp) rpc_metrics_msg_sent(mm);
  return st;
}

/* Adds `file` and, depth first, everything it imports, each once. */
static void collect_files(const descset *d, const char *file, const char **out, int *n) {
  for (int i = 0; i < *n; i++)
    if (strcmp(out[i], file) == 0) return;
  if (*n >= MAX_FILES_PER_ANSWER) return;
  out[(*n)++] = file;
  const char *const *deps;
  int nd = descset_file_deps(d, file, &deps);
  for (int i = 0; i < nd; i++) collect_files(d, deps[i], out, n);
}

static void set_error(rpc_ctx *ctx, ReflectionResponse *resp, grpc_status_code code, const char *message) {
  Grpc__Reflection__V1__ErrorResponse *e =
      RPC_NEW(ctx, Grpc__Reflection__V1__ErrorResponse, grpc__reflection__v1__error_response__init);
  e->error_code = (int32_t)code;
  e->error_message = arena_strdup(ctx->arena, message);
  resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
  resp->error_response = e;
}

static void answer_files(rpc_ctx *ctx, const descset *d, const char *file, ReflectionResponse *resp) {
  const char *files[MAX_FILES_PER_ANSWER];
  int n = 0;
  collect_files(d, file, files, &n);
  Grpc__Reflection__V1__FileDescriptorResponse *fr =
      RPC_NEW(ctx, Grpc__Reflection__V1__FileDescriptorResponse, grpc__reflection__v1__file_descriptor_response__init);
  fr->file_descriptor_proto = arena_alloc(ctx->arena, sizeof(ProtobufCBinaryData) * (size_t)n);
  for (int i = 0; i < n; i++) {
    const uint8_t *data;
    size_t len;
    if (!descset_file_bytes(d, files[i], &data, &len)) continue;
    fr->file_descriptor_proto[fr->n_file_descriptor_proto++] = (ProtobufCBinaryData){.len = len, .data = (uint8_t *)data};
  }
  resp->message_response_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
  resp->file_descriptor_response = fr;
}

static void answer_reflection(rpc_server *s, rpc_ctx *ctx, const ReflectionRequest *req, ReflectionResponse *resp) {
  const descset *d = rpc_server_descset(s);
  resp->valid_host = req->host;
  resp->original_request = (ReflectionRequest *)req;
  switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES: {
      const char *names[64];
      int n = rpc_server_service_names(s, names, 64);
      Grpc__Reflection__V1__ListServiceResponse *ls =
          RPC_NEW(ctx, Grpc__Reflection__V1__ListServiceResponse, grpc__reflection__v1__list_service_response__init);
      ls->service = arena_alloc(ctx->arena, sizeof(void *) * (size_t)n);
      for (int i = 0; i < n; i++) {
        Grpc__Reflection__V1__ServiceResponse *sr =
            RPC_NEW(ctx, Grpc__Reflection__V1__ServiceResponse, grpc__reflection__v1__service_response__init);
        sr->name = (char *)names[i];
        ls->service[ls->n_service++] = sr;
      }
      resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
      resp->list_services_response = ls;
      return;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME: {
      const uint8_t *data;
      size_t len;
      if (descset_file_bytes(d, req->file_by_filename, &data, &len))
        answer_files(ctx, d, req->file_by_filename, resp);
      else
        set_error(ctx, resp, GRPC_STATUS_NOT_FOUND, "file not found");
      return;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL: {
      const char *file = descset_file_of_symbol(d, req->file_containing_symbol);
      if (file)
        answer_files(ctx, d, file, resp);
      else
        set_error(ctx, resp, GRPC_STATUS_NOT_FOUND, "symbol not found");
      return;
    }
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION: {
      const Grpc__Reflection__V1__ExtensionRequest *e = req->file_containing_extension;
      const char *file = e && e->containing_type
                             ? descset_file_of_extension(d, e->containing_type, e->extension_number)
                             : NULL;
      if (file)
        answer_files(ctx, d, file, resp);
      else
        set_error(ctx, resp, GRPC_STATUS_NOT_FOUND, "extension not found");
      return;
    }
    default: /* all_extension_numbers_of_type: not indexed; clients fall back */
      set_error(ctx, resp, GRPC_STATUS_UNIMPLEMENTED, "extension numbers are not listed by this server");
      return;
  }
}

/* Bidirectional stream: one response per request until the client half-closes. */
static rpc_status serve_reflection(rpc_server *s, grpc_call *call, grpc_completion_queue *cq, rpc_ctx *ctx,
                                   rpc_method_metrics *mm) {
  bool sent_initial = false;
  rpc_status st = RPC_OK;
  for (int count = 0; count < MAX_REFLECTION_REQUESTS; count++) {
    grpc_byte_buffer *bb = NULL;
    if (!recv_message(call, cq, &bb)) return (rpc_status){.code = GRPC_STATUS_CANCELLED, .message = "cancelled"};
    if (!bb) break;
    rpc_metrics_msg_received(mm);
    uint8_t *data;
    size_t len;
    bool read = rpc_byte_buffer_read(ctx->arena, bb, rpc_server_max_message(s), &data, &len);
    grpc_byte_buffer_destroy(bb);
    ReflectionRequest *req = read ? grpc__reflection__v1__server_reflection_request__unpack(&ctx->alloc, len, data) : NULL;
    if (!req) {
      st = (rpc_status){.code = GRPC_STATUS_INVALID_ARGUMENT, .message = "malformed reflection request"};
      break;
    }
    ReflectionResponse *resp =
        RPC_NEW(ctx, ReflectionResponse, grpc__reflection__v1__server_reflection_response__init);
    answer_reflection(s, ctx, req, resp);
    grpc_byte_buffer *out = rpc_pack_message(&resp->base);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!sent_initial) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = out;
    bool ok = rpc_call_run_batch(call, cq, ops, n);
    grpc_byte_buffer_destroy(out);
    sent_initial = true;
    if (!ok) return (rpc_status){.code = GRPC_STATUS_CANCELLED, .message = "cancelled"};
    rpc_metrics_msg_sent(mm);
  }
  rpc_call_finish(ctx->arena, call, cq, st, NULL, !sent_initial);
  return st;
}

rpc_status rpc_builtin_serve(rpc_server *s, const rpc_registered_method *m, grpc_call *call,
                             grpc_completion_queue *cq, rpc_ctx *ctx) {
  switch (m->kind) {
    case RPC_KIND_HEALTH_CHECK:
      return serve_health(s, call, cq, ctx, rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_UNARY, m->path));
    case RPC_KIND_REFLECTION:
      return serve_reflection(s, call, cq, ctx,
                              rpc_method_metrics_get(RPC_METRICS_SERVER, RPC_TYPE_BIDI_STREAM, m->path));
    default:
      return rpc_internal("built-in kind without a server");
  }
}
