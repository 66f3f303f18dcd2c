/* The call a run makes: the method resolved in the descriptor registry the gateway uses, its address
 * by the package's second segment (like METRO_BACKENDS), the request from proto3 JSON, the answer back. */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "common/pjson.h"
#include "common/proto_registry.h"
#include "common/rpc_client.h"
#include "svc/scheduler/scheduler.h"

static const proto_registry *const registries[] = {&metro_proto_registry, NULL};

/* Each target service: the key (metro.<key>.v1) and where its address setting lives. */
static const struct {
  const char *key;
  size_t offset;
} addresses[] = {
    {"ticket", offsetof(sch_settings, ticket_addr)},   {"payment", offsetof(sch_settings, payment_addr)},
    {"control", offsetof(sch_settings, control_addr)}, {"public", offsetof(sch_settings, public_addr)},
    {"report", offsetof(sch_settings, report_addr)},
};

/* "/metro.ticket.v1.TicketService/ExpireUnpaid" -> service "metro.ticket.v1.TicketService",
 * method "ExpireUnpaid" (arena copies); false when it is not of that shape. */
static bool split_method(arena *a, const char *full, const char **service, const char **method) {
  const char *slash = full[0] == '/' ? strrchr(full, '/') : NULL;
  if (!slash || slash == full || !slash[1]) return false;
  *service = arena_strndup(a, full + 1, (size_t)(slash - full - 1));
  *method = slash + 1;
  return true;
}

const char *sch_target_address(const sch_settings *s, const char *method) {
  /* "/metro.<key>.v1..." */
  const char *p = method[0] == '/' ? strchr(method, '.') : NULL;
  const char *q = p ? strchr(p + 1, '.') : NULL;
  if (!q) return NULL;
  size_t n = (size_t)(q - p - 1);
  for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; i++)
    if (strlen(addresses[i].key) == n && strncmp(addresses[i].key, p + 1, n) == 0) {
      const char *addr = *(char *const *)((const char *)s + addresses[i].offset);
      return addr && *addr ? addr : NULL;
    }
  return NULL;
}

rpc_status sch_target_call(rpc_ctx *ctx, const char *method, const char *request_json, int64_t timeout_ms,
                           const char **response_json) {
  *response_json = NULL;
  const char *service_name, *method_name;
  if (!split_method(ctx->arena, method, &service_name, &method_name))
    return rpc_error(ctx->arena, GRPC_STATUS_INVALID_ARGUMENT, "BAD_METHOD", "%s is not /package.Service/Method",
                     method);
  const ProtobufCServiceDescriptor *svc = proto_registry_service(registries, service_name);
  const ProtobufCMethodDescriptor *m = svc ? protobuf_c_service_descriptor_get_method_by_name(svc, method_name) : NULL;
  if (!m)
    return rpc_error(ctx->arena, GRPC_STATUS_UNIMPLEMENTED, "UNKNOWN_METHOD",
                     "%s is not a method of this build's protos (its service has not arrived yet)", method);
  const char *addr = sch_target_address(&sch_st(ctx)->settings, method);
  rpc_channel *ch = addr ? rpc_channel_get(addr) : NULL;
  if (!ch)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "NO_TARGET_ADDRESS",
                     "no address is configured for the service of %s", method);
  ProtobufCMessage *req = arena_alloc(ctx->arena, m->input->sizeof_message);
  m->input->message_init(req);
  pjson_error err;
  if (!pjson_decode_text(request_json, strlen(request_json), req, &ctx->alloc, &err))
    return rpc_error(ctx->arena, GRPC_STATUS_INVALID_ARGUMENT, "BAD_REQUEST_JSON",
                     "the job's request is not a %s: %s%s%s",
                     m->input->name, err.message, *err.field ? " at " : "", err.field);
  static const char *const admin[] = {"admin"};
  rpc_call_meta meta = rpc_meta_as_service_roles(ctx, "scheduler", admin, 1);
  ProtobufCMessage *resp;
  rpc_status st = rpc_call_unary(ch, ctx->arena, method, &meta, req, m->output, &resp,
                                 timeout_ms > 0 ? (int)timeout_ms : 1, INT64_MAX);
  if (!rpc_ok(st)) return st;
  *response_json = pjson_write_arena(ctx->arena, resp, PJSON_EMIT_DEFAULTS, NULL, &err);
  return RPC_OK;
}
