/* What a gateway may report with ReportGateway: every string, list and number bounded and
 * checked, so a report stored and shown to admins is never more than its limits allow. */
#include <string.h>

#include "common/text.h"
#include "svc/management/management.h"

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
#define TOKEN_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_-"
#define MAX_ROLES 8
#define MAX_ADDRESS 256
#define MAX_METHOD 16
#define MAX_TEMPLATE 512
#define MAX_RPC_METHOD 256
#define MAX_TOKEN 64
#define MAX_TARGET 512
/* google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define TS_MIN_SECONDS (-62135596800LL)
#define TS_MAX_SECONDS 253402300799LL

static bool bounded(const char *s, size_t min, size_t max) {
  size_t n = s ? strlen(s) : 0;
  return n >= min && n <= max;
}

/* Visible ASCII only (no blanks, no controls, no UTF-8): addresses, templates, method names. */
static bool visible_ascii(const char *s) {
  for (; *s; s++)
    if (*s < 0x21 || *s > 0x7e) return false;
  return true;
}

static bool token_valid(const char *s) { return bounded(s, 1, MAX_TOKEN) && text_only_chars(s, TOKEN_CHARS); }

static bool timestamp_valid(const Google__Protobuf__Timestamp *t) {
  return !t || (t->seconds >= TS_MIN_SECONDS && t->seconds <= TS_MAX_SECONDS && t->nanos >= 0 &&
                t->nanos <= 999999999);
}

bool mgmt_instance_id_valid(const char *id) { return bounded(id, 1, 64) && text_only_chars(id, ID_CHARS); }

static rpc_status bad(arena *a, const char *field, const char *what) {
  return rpc_invalid(a, field, NULL, "%s %s", field, what);
}

static rpc_status route_check(arena *a, const Metro__Management__V1__GatewayRoute *r, size_t i) {
  const char *f;
  if (!bounded(r->http_method, 1, MAX_METHOD) || !text_only_chars(r->http_method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
    f = arena_printf(a, "instance.routes[%zu].httpMethod", i);
    return bad(a, f, "must be 1-16 upper-case letters");
  }
  if (!bounded(r->path_template, 1, MAX_TEMPLATE) || r->path_template[0] != '/' || !visible_ascii(r->path_template)) {
    f = arena_printf(a, "instance.routes[%zu].pathTemplate", i);
    return bad(a, f, "must start with '/' and be 1-512 visible ASCII characters");
  }
  if (!bounded(r->rpc_method, 1, MAX_RPC_METHOD) || r->rpc_method[0] != '/' || !visible_ascii(r->rpc_method)) {
    f = arena_printf(a, "instance.routes[%zu].rpcMethod", i);
    return bad(a, f, "must start with '/' and be 1-256 visible ASCII characters");
  }
  if (r->n_roles > MAX_ROLES) {
    f = arena_printf(a, "instance.routes[%zu].roles", i);
    return bad(a, f, "may name at most 8 roles");
  }
  for (size_t k = 0; k < r->n_roles; k++)
    if (!token_valid(r->roles[k])) {
      f = arena_printf(a, "instance.routes[%zu].roles[%zu]", i, k);
      return bad(a, f, "must be 1-64 of [a-z0-9_-]");
    }
  return RPC_OK;
}

static rpc_status backend_check(arena *a, const Metro__Management__V1__BackendState *b, size_t i) {
  const char *f;
  if (!token_valid(b->service)) {
    f = arena_printf(a, "instance.backends[%zu].service", i);
    return bad(a, f, "must be 1-64 of [a-z0-9_-]");
  }
  if (!bounded(b->target, 1, MAX_TARGET) || !visible_ascii(b->target)) {
    f = arena_printf(a, "instance.backends[%zu].target", i);
    return bad(a, f, "must be 1-512 visible ASCII characters");
  }
  if (b->state < METRO__MANAGEMENT__V1__BREAKER_STATE__BREAKER_STATE_UNSPECIFIED ||
      b->state > METRO__MANAGEMENT__V1__BREAKER_STATE__HALF_OPEN) {
    f = arena_printf(a, "instance.backends[%zu].state", i);
    return bad(a, f, "is not a BreakerState");
  }
  if (b->consecutive_failures < 0 || b->requests < 0 || b->failures < 0 || b->rejected < 0) {
    f = arena_printf(a, "instance.backends[%zu]", i);
    return bad(a, f, "counters must not be negative");
  }
  if (!timestamp_valid(b->opened_time)) {
    f = arena_printf(a, "instance.backends[%zu].openedTime", i);
    return bad(a, f, "is not a valid timestamp");
  }
  return RPC_OK;
}

rpc_status mgmt_report_validate(arena *a, const Metro__Management__V1__GatewayInstance *g) {
  if (!g) return rpc_invalid(a, "instance", "FIELD_REQUIRED", "instance is required");
  if (!mgmt_instance_id_valid(g->instance_id))
    return bad(a, "instance.instanceId", "must be 1-64 of [A-Za-z0-9._:-]");
  if (!bounded(g->address, 0, MAX_ADDRESS) || !visible_ascii(g->address))
    return bad(a, "instance.address", "must be at most 256 visible ASCII characters");
  if (!timestamp_valid(g->start_time)) return bad(a, "instance.startTime", "is not a valid timestamp");
  if (g->n_routes > MGMT_MAX_ROUTES)
    return rpc_invalid(a, "instance.routes", NULL, "instance.routes: %zu routes, at most %d", g->n_routes,
                       MGMT_MAX_ROUTES);
  if (g->n_backends > MGMT_MAX_BACKENDS)
    return rpc_invalid(a, "instance.backends", NULL, "instance.backends: %zu backends, at most %d", g->n_backends,
                       MGMT_MAX_BACKENDS);
  for (size_t i = 0; i < g->n_routes; i++) {
    rpc_status st = route_check(a, g->routes[i], i);
    if (!rpc_ok(st)) return st;
  }
  for (size_t i = 0; i < g->n_backends; i++) {
    rpc_status st = backend_check(a, g->backends[i], i);
    if (!rpc_ok(st)) return st;
  }
  return RPC_OK;
}
