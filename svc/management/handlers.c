/* The management methods and their table: the services and their instances as the poller
 * recorded them (admins), gateway reports stored (services) and read back (admins). */
#include <string.h>

#include "common/metrics.h"
#include "common/page_token.h"
#include "common/pb_time.h"
#include "svc/management/management.h"

#define INSTANCES_DEFAULT_PAGE 100
#define INSTANCES_MAX_PAGE 500
#define GATEWAYS_DEFAULT_PAGE 20
#define GATEWAYS_MAX_PAGE 50

static metric_family *m_reports;

static rpc_status list_services(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  const mgmt_services *s = mgmt_st(ctx)->services;
  Metro__Management__V1__ListServicesResponse *resp = RPC_NEW(ctx, Metro__Management__V1__ListServicesResponse,
                                                              metro__management__v1__list_services_response__init);
  rpc_status st = mgmt_services_summary(ctx, s, &resp->services);
  if (!rpc_ok(st)) return st;
  resp->n_services = (size_t)s->n;
  *out = &resp->base;
  return RPC_OK;
}

/* An instance address as a page token's row id: what the poller stores (host:port, [v6]:port). */
static bool address_id_valid(const char *id) {
  size_t n = strlen(id);
  if (n < 3 || n >= MGMT_TARGET_MAX) return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(".:-[]", *p)))
      return false;
  return true;
}

static rpc_status list_instances(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Management__V1__ListServiceInstancesRequest *r = (const void *)msg;
  if (!mgmt_services_find(mgmt_st(ctx)->services, r->name))
    return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "SERVICE_NOT_FOUND",
                     "no service named \"%.64s\" is watched (METRO_MANAGEMENT_SERVICES)", r->name);
  page_cursor cur;
  rpc_status st = page_cursor_parse_ids(ctx, "inst", r->page_size, r->page_token, INSTANCES_DEFAULT_PAGE,
                                        INSTANCES_MAX_PAGE, address_id_valid, &cur);
  if (!rpc_ok(st)) return st;
  Metro__Management__V1__Instance **rows;
  int n;
  if (!rpc_ok(st = mgmt_instances_list(ctx, r->name, cur.after_id, cur.page_size + 1, &rows, &n))) return st;
  int shown = n > cur.page_size ? cur.page_size : n;
  Metro__Management__V1__ListServiceInstancesResponse *resp =
      RPC_NEW(ctx, Metro__Management__V1__ListServiceInstancesResponse,
              metro__management__v1__list_service_instances_response__init);
  resp->instances = rows;
  resp->n_instances = (size_t)shown;
  if (n > shown) resp->next_page_token = (char *)page_token_make(ctx, "inst", 0, rows[shown - 1]->address);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status report_gateway(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Management__V1__ReportGatewayRequest *r = (const void *)msg;
  rpc_status st = mgmt_report_validate(ctx->arena, r->instance);
  if (!rpc_ok(st)) return st;
  int64_t last_seen;
  if (!rpc_ok(st = mgmt_gateway_put(ctx, r->instance, &last_seen))) return st;
  if (m_reports) metrics_add(m_reports, NULL, NULL, 1);
  Metro__Management__V1__ReportGatewayResponse *resp = RPC_NEW(
      ctx, Metro__Management__V1__ReportGatewayResponse, metro__management__v1__report_gateway_response__init);
  resp->name = arena_printf(ctx->arena, "gateways/%s", r->instance->instance_id);
  resp->last_seen_time = pb_timestamp(ctx, last_seen);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status list_gateways(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Management__V1__ListGatewaysRequest *r = (const void *)msg;
  page_cursor cur;
  rpc_status st = page_cursor_parse_ids(ctx, "gw", r->page_size, r->page_token, GATEWAYS_DEFAULT_PAGE,
                                        GATEWAYS_MAX_PAGE, mgmt_instance_id_valid, &cur);
  if (!rpc_ok(st)) return st;
  Metro__Management__V1__GatewayInstance **rows;
  int n;
  if (!rpc_ok(st = mgmt_gateways_list(ctx, cur.after_us, cur.after_id, cur.page_size + 1, &rows, &n))) return st;
  int shown = n > cur.page_size ? cur.page_size : n;
  Metro__Management__V1__ListGatewaysResponse *resp = RPC_NEW(ctx, Metro__Management__V1__ListGatewaysResponse,
                                                              metro__management__v1__list_gateways_response__init);
  resp->gateways = rows;
  resp->n_gateways = (size_t)shown;
  if (n > shown) {
    const Metro__Management__V1__GatewayInstance *last = rows[shown - 1];
    resp->next_page_token =
        (char *)page_token_make(ctx, "gw", pb_timestamp_us(last->last_seen_time), last->instance_id);
  }
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_gateway(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Management__V1__GetGatewayRequest *r = (const void *)msg;
  if (!mgmt_instance_id_valid(r->instance_id))
    return rpc_invalid(ctx->arena, "instanceId", NULL, "instanceId must be 1-64 of [A-Za-z0-9._:-]");
  Metro__Management__V1__GatewayInstance *g;
  rpc_status st = mgmt_gateway_get(ctx, r->instance_id, &g);
  if (!rpc_ok(st)) return st;
  if (!g)
    return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "GATEWAY_NOT_FOUND", "no gateway \"%s\" has reported",
                     r->instance_id);
  *out = &g->base;
  return RPC_OK;
}

void mgmt_handlers_metrics_init(void) {
  m_reports = metrics_counter("metro_management_gateway_reports_total", "Gateway reports stored", NULL, NULL);
}

static const rpc_method_impl methods[] = {
    {"ListServices", list_services, 0},
    {"ListServiceInstances", list_instances, 0},
    {"ReportGateway", report_gateway, 0},
    {"ListGateways", list_gateways, 0},
    {"GetGateway", get_gateway, 0},
};

const rpc_service_impl management_service_impl = {
    .descriptor = &metro__management__v1__management_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
