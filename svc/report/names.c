/* Station and line display names for report dimensions, read from the transport service once per
 * report or analytics call (a few pages of ListStations and ListLines), ids when it is down. */
#include <string.h>

#include "common/log.h"
#include "common/rpc_client.h"
#include "metro/transport/v1/transport.pb-c.h"
#include "svc/report/report.h"

#define RP_NAMES_MAX_PAGES 50

typedef struct rp_name_pair {
  const char *id, *name;
} rp_name_pair;

struct rp_names {
  rp_name_pair *stations, *lines;
  size_t n_stations, n_lines;
};

typedef struct list_call {
  const char *method;
  const ProtobufCMessageDescriptor *response;
} list_call;

/* Every page of one List method: each response is handed to add(). False when a call failed. */
static bool list_all(rpc_ctx *ctx, const list_call *c, void (*add)(rpc_ctx *, rp_names *, const ProtobufCMessage *),
                     rp_names *out) {
  const rp_state *st = rp_st(ctx);
  rpc_channel *ch = st->settings.transport_addr && *st->settings.transport_addr
                        ? rpc_channel_get(st->settings.transport_addr)
                        : NULL;
  if (!ch) return false;
  rpc_call_meta meta = rpc_meta_as_service(ctx, "report");
  const char *token = "";
  for (int page = 0; page < RP_NAMES_MAX_PAGES; page++) {
    /* ListStationsRequest and ListLinesRequest share their shape: page_size 1, page_token 2. */
    Metro__Transport__V1__ListStationsRequest req = METRO__TRANSPORT__V1__LIST_STATIONS_REQUEST__INIT;
    req.page_size = 100;
    req.page_token = (char *)token;
    ProtobufCMessage *resp;
    rpc_status s = rpc_call_unary(ch, ctx->arena, c->method, &meta, &req.base, c->response, &resp,
                                  (int)st->settings.call_timeout_ms, INT64_MAX);
    if (!rpc_ok(s)) {
      log_warn("report: %s failed (%s); ids stand for names", c->method, s.message ? s.message : "");
      return false;
    }
    add(ctx, out, resp);
    const char *next = c->response == &metro__transport__v1__list_stations_response__descriptor
                           ? ((Metro__Transport__V1__ListStationsResponse *)resp)->next_page_token
                           : ((Metro__Transport__V1__ListLinesResponse *)resp)->next_page_token;
    if (!next || !*next) return true;
    token = next;
  }
  return true;
}

static rp_name_pair *grow(rpc_ctx *ctx, rp_name_pair *old, size_t n, size_t more) {
  rp_name_pair *p = arena_alloc(ctx->arena, (n + more) * sizeof *p);
  if (n) memcpy(p, old, n * sizeof *p);
  return p;
}

static void add_stations(rpc_ctx *ctx, rp_names *out, const ProtobufCMessage *m) {
  const Metro__Transport__V1__ListStationsResponse *r = (const void *)m;
  out->stations = grow(ctx, out->stations, out->n_stations, r->n_stations);
  for (size_t i = 0; i < r->n_stations; i++)
    out->stations[out->n_stations++] = (rp_name_pair){r->stations[i]->station_id, r->stations[i]->name};
}

static void add_lines(rpc_ctx *ctx, rp_names *out, const ProtobufCMessage *m) {
  const Metro__Transport__V1__ListLinesResponse *r = (const void *)m;
  out->lines = grow(ctx, out->lines, out->n_lines, r->n_lines);
  for (size_t i = 0; i < r->n_lines; i++)
    out->lines[out->n_lines++] = (rp_name_pair){r->lines[i]->route_id, r->lines[i]->name};
}

rp_names *rp_names_load(rpc_ctx *ctx) {
  rp_names *n = arena_alloc(ctx->arena, sizeof *n);
  memset(n, 0, sizeof *n);
  static const list_call stations = {"/metro.transport.v1.TransportService/ListStations",
                                     &metro__transport__v1__list_stations_response__descriptor};
  static const list_call lines = {"/metro.transport.v1.TransportService/ListLines",
                                  &metro__transport__v1__list_lines_response__descriptor};
  if (list_all(ctx, &stations, add_stations, n)) list_all(ctx, &lines, add_lines, n);
  return n;
}

static const char *lookup(const rp_name_pair *p, size_t n, const char *id) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(p[i].id, id) == 0) return p[i].name && *p[i].name ? p[i].name : id;
  return id;
}

const char *rp_station_name(const rp_names *n, const char *station_id) {
  return n ? lookup(n->stations, n->n_stations, station_id) : station_id;
}

const char *rp_line_name(const rp_names *n, const char *route_id) {
  return n ? lookup(n->lines, n->n_lines, route_id) : route_id;
}
