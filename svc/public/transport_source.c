/* The reads behind the public cache: calls to metro.transport.v1.TransportService over
 * gRPC with the caller's metadata and a short deadline, and the whole-network lists
 * gathered from transport's pages. */
#include <string.h>

#include "common/rpc_client.h"
#include "svc/public/public.h"

#define SERVICE "/metro.transport.v1.TransportService/"
#define TRANSPORT_PAGE 100
#define MAX_PAGES (PUB_MAX_LIST_ITEMS / TRANSPORT_PAGE)

rpc_status pub_transport_call(rpc_ctx *ctx, const char *method, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp, int timeout_ms) {
  const pub_settings *s = &((const pub_state *)ctx->state)->settings;
  rpc_channel *ch = rpc_channel_get(s->transport_addr);
  if (!ch) return rpc_internal("public: no channel to transport");
  rpc_call_meta meta = rpc_meta_from_ctx(ctx);
  return rpc_call_unary(ch, ctx->arena, arena_printf(ctx->arena, SERVICE "%s", method), &meta, req, resp_type, resp,
                        timeout_ms > 0 ? timeout_ms : (int)s->transport_timeout_ms, ctx->deadline_ms);
}

/* Appends src[0..n) to the growing array *items of *len (capacity *cap), in arena memory. */
static bool append(arena *a, void ***items, size_t *len, size_t *cap, void **src, size_t n) {
  if (*len + n > PUB_MAX_LIST_ITEMS) return false;
  if (*len + n > *cap) {
    size_t want = *cap ? *cap * 2 : 128;
    while (want < *len + n) want *= 2;
    void **grown = arena_alloc(a, want * sizeof *grown);
    if (*len) memcpy(grown, *items, *len * sizeof *grown);
    *items = grown;
    *cap = want;
  }
  if (n) memcpy(*items + *len, src, n * sizeof *src);
  *len += n;
  return true;
}

rpc_status pub_fetch_all_stations(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  (void)arg;
  Metro__Transport__V1__ListStationsResponse *all =
      RPC_NEW(ctx, Metro__Transport__V1__ListStationsResponse, metro__transport__v1__list_stations_response__init);
  size_t cap = 0;
  const char *token = "";
  for (int page = 0; page < MAX_PAGES; page++) {
    Metro__Transport__V1__ListStationsRequest req = METRO__TRANSPORT__V1__LIST_STATIONS_REQUEST__INIT;
    req.page_size = TRANSPORT_PAGE;
    req.page_token = (char *)token;
    ProtobufCMessage *m;
    rpc_status st = pub_transport_call(ctx, "ListStations", &req.base,
                                       &metro__transport__v1__list_stations_response__descriptor, &m, 0);
    if (!rpc_ok(st)) return st;
    Metro__Transport__V1__ListStationsResponse *r = (void *)m;
    if (!append(ctx->arena, (void ***)&all->stations, &all->n_stations, &cap, (void **)r->stations, r->n_stations))
      return rpc_internal("public: transport listed too many stations");
    token = r->next_page_token;
    if (!token || !*token) {
      *out = &all->base;
      return RPC_OK;
    }
  }
  return rpc_internal("public: transport's station pages never ended");
}

rpc_status pub_fetch_all_lines(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  (void)arg;
  Metro__Transport__V1__ListLinesResponse *all =
      RPC_NEW(ctx, Metro__Transport__V1__ListLinesResponse, metro__transport__v1__list_lines_response__init);
  size_t cap = 0;
  const char *token = "";
  for (int page = 0; page < MAX_PAGES; page++) {
    Metro__Transport__V1__ListLinesRequest req = METRO__TRANSPORT__V1__LIST_LINES_REQUEST__INIT;
    req.page_size = TRANSPORT_PAGE;
    req.page_token = (char *)token;
    ProtobufCMessage *m;
    rpc_status st =
        pub_transport_call(ctx, "ListLines", &req.base, &metro__transport__v1__list_lines_response__descriptor, &m, 0);
    if (!rpc_ok(st)) return st;
    Metro__Transport__V1__ListLinesResponse *r = (void *)m;
    if (!append(ctx->arena, (void ***)&all->lines, &all->n_lines, &cap, (void **)r->lines, r->n_lines))
      return rpc_internal("public: transport listed too many lines");
    token = r->next_page_token;
    if (!token || !*token) {
      *out = &all->base;
      return RPC_OK;
    }
  }
  return rpc_internal("public: transport's line pages never ended");
}

rpc_status pub_fetch_station(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  Metro__Transport__V1__GetStationRequest req = METRO__TRANSPORT__V1__GET_STATION_REQUEST__INIT;
  req.station_id = (char *)arg;
  return pub_transport_call(ctx, "GetStation", &req.base, &metro__transport__v1__station__descriptor, out, 0);
}

rpc_status pub_fetch_line(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  Metro__Transport__V1__GetLineRequest req = METRO__TRANSPORT__V1__GET_LINE_REQUEST__INIT;
  req.route_id = (char *)arg;
  return pub_transport_call(ctx, "GetLine", &req.base, &metro__transport__v1__line__descriptor, out, 0);
}

rpc_status pub_fetch_journey(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  return pub_transport_call(ctx, "PlanJourney", arg, &metro__transport__v1__journey_plan__descriptor, out, 0);
}

rpc_status pub_fetch_line_trips(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  return pub_transport_call(ctx, "ListLineTrips", arg, &metro__transport__v1__list_line_trips_response__descriptor,
                            out, 0);
}

rpc_status pub_fetch_departures(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  return pub_transport_call(ctx, "ListDepartures", arg, &metro__transport__v1__list_departures_response__descriptor,
                            out, 0);
}

rpc_status pub_fetch_gtfs(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  const pub_settings *s = &((const pub_state *)ctx->state)->settings;
  const Metro__Transport__V1__ExportGtfsRequest *req = arg;
  ProtobufCMessage *m;
  rpc_status st = pub_transport_call(ctx, "ExportGtfs", arg, &metro__transport__v1__gtfs_feed__descriptor, &m,
                                     (int)s->gtfs_timeout_ms);
  if (!rpc_ok(st)) return st;
  const Metro__Transport__V1__GtfsFeed *feed = (const void *)m;
  Metro__Public__V1__GtfsFeedFile *file =
      RPC_NEW(ctx, Metro__Public__V1__GtfsFeedFile, metro__public__v1__gtfs_feed_file__init);
  file->content_type = "application/zip";
  file->file_name = req->consumer_feed ? "metro-hcmc.zip" : "metro-hcmc-gtfs.zip";
  file->data = feed->zip;
  file->trips = feed->trips;
  file->etag = arena_alloc(ctx->arena, PUB_ETAG_LEN);
  pub_etag(feed->zip.data, feed->zip.len, file->etag);
  file->last_modified = feed->last_modified;
  *out = &file->base;
  return RPC_OK;
}
