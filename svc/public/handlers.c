/* The public service's gRPC handlers and their table: each validates its request, names
 * its cache entry (kind, scope, args) and reads through the cache from transport or
 * ticket; the GTFS zip as raw HTTP with its validators; plus the admin's cache flush. */
#include <stdio.h>
#include <string.h>

#include "common/pb_time.h"
#include "svc/public/public.h"

#define MAX_TRIPS_PAGE 1000
#define DEFAULT_DEPARTURES 10
#define MAX_DEPARTURES 100
#define MAX_FLUSH_KINDS 32

static rpc_status station_id_ok(rpc_ctx *ctx, const char *field, const char *id) {
  return pub_check_id(ctx, field, id, "STATION_NOT_FOUND", "station");
}

static rpc_status route_id_ok(rpc_ctx *ctx, const char *field, const char *id) {
  return pub_check_id(ctx, field, id, "LINE_NOT_FOUND", "line");
}

static rpc_status cached(rpc_ctx *ctx, pub_kind kind, const char *scope, const char *args,
                         const ProtobufCMessageDescriptor *type, pub_fetch_fn fetch, const void *arg,
                         ProtobufCMessage **out) {
  pub_cache_key key = {.kind = kind, .scope = scope, .args = args};
  return pub_cache_get(ctx, &key, type, fetch, arg, out, NULL);
}

/* ---- the network ---- */

static rpc_status list_stations(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__ListStationsRequest *r = (const void *)msg;
  size_t offset, count;
  rpc_status st = pub_page(ctx, r->page_size, r->page_token, 0, &offset, &count); /* validates first */
  ProtobufCMessage *m;
  if (!rpc_ok(st) || !rpc_ok(st = cached(ctx, PUB_KIND_STATIONS, "", "list",
                                         &metro__transport__v1__list_stations_response__descriptor,
                                         pub_fetch_all_stations, NULL, &m)))
    return st;
  const Metro__Transport__V1__ListStationsResponse *all = (const void *)m;
  pub_page(ctx, r->page_size, r->page_token, all->n_stations, &offset, &count);
  Metro__Public__V1__ListStationsResponse *resp =
      RPC_NEW(ctx, Metro__Public__V1__ListStationsResponse, metro__public__v1__list_stations_response__init);
  resp->stations = all->stations + offset;
  resp->n_stations = count;
  resp->next_page_token = (char *)pub_next_token(ctx, offset, count, all->n_stations);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_station(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__GetStationRequest *r = (const void *)msg;
  rpc_status st = station_id_ok(ctx, "stationId", r->station_id);
  if (!rpc_ok(st)) return st;
  return cached(ctx, PUB_KIND_STATIONS, "", arena_printf(ctx->arena, "id:%s", r->station_id),
                &metro__transport__v1__station__descriptor, pub_fetch_station, r->station_id, out);
}

static rpc_status list_lines(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__ListLinesRequest *r = (const void *)msg;
  size_t offset, count;
  rpc_status st = pub_page(ctx, r->page_size, r->page_token, 0, &offset, &count);
  ProtobufCMessage *m;
  if (!rpc_ok(st) ||
      !rpc_ok(st = cached(ctx, PUB_KIND_LINES, "", "list", &metro__transport__v1__list_lines_response__descriptor,
                          pub_fetch_all_lines, NULL, &m)))
    return st;
  const Metro__Transport__V1__ListLinesResponse *all = (const void *)m;
  pub_page(ctx, r->page_size, r->page_token, all->n_lines, &offset, &count);
  Metro__Public__V1__ListLinesResponse *resp =
      RPC_NEW(ctx, Metro__Public__V1__ListLinesResponse, metro__public__v1__list_lines_response__init);
  resp->lines = all->lines + offset;
  resp->n_lines = count;
  resp->next_page_token = (char *)pub_next_token(ctx, offset, count, all->n_lines);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_line(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__GetLineRequest *r = (const void *)msg;
  rpc_status st = route_id_ok(ctx, "routeId", r->route_id);
  if (!rpc_ok(st)) return st;
  return cached(ctx, PUB_KIND_LINES, "", arena_printf(ctx->arena, "id:%s", r->route_id),
                &metro__transport__v1__line__descriptor, pub_fetch_line, r->route_id, out);
}

/* ---- journeys and timetables ---- */

static rpc_status plan_journey(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__PlanJourneyRequest *r = (const void *)msg;
  rpc_status st = station_id_ok(ctx, "originStationId", r->origin_station_id);
  if (rpc_ok(st)) st = station_id_ok(ctx, "destinationStationId", r->destination_station_id);
  if (rpc_ok(st) && strcmp(r->origin_station_id, r->destination_station_id) == 0)
    st = rpc_invalid(ctx->arena, "destinationStationId", "SAME_STATION",
                     "the origin and the destination are the same station");
  if (!rpc_ok(st)) return st;
  Metro__Transport__V1__PlanJourneyRequest *req =
      RPC_NEW(ctx, Metro__Transport__V1__PlanJourneyRequest, metro__transport__v1__plan_journey_request__init);
  req->origin_station_id = r->origin_station_id;
  req->destination_station_id = r->destination_station_id;
  return cached(ctx, PUB_KIND_JOURNEYS, "",
                arena_printf(ctx->arena, "%s:%s", r->origin_station_id, r->destination_station_id),
                &metro__transport__v1__journey_plan__descriptor, pub_fetch_journey, req, out);
}

static rpc_status list_line_trips(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__ListLineTripsRequest *r = (const void *)msg;
  long day;
  rpc_status st = route_id_ok(ctx, "routeId", r->route_id);
  if (rpc_ok(st)) st = pub_check_date(ctx, "date", r->date, false, &day);
  const char *dir = r->direction ? r->direction : "";
  if (rpc_ok(st) && *dir && strcmp(dir, "outbound") != 0 && strcmp(dir, "inbound") != 0)
    st = rpc_invalid(ctx->arena, "direction", "INVALID_DIRECTION", "direction must be outbound, inbound or empty");
  if (rpc_ok(st) && r->page_size < 0)
    st = rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must not be negative");
  if (rpc_ok(st)) st = pub_check_foreign_token(ctx, r->page_token);
  if (!rpc_ok(st)) return st;
  Metro__Transport__V1__ListLineTripsRequest *req =
      RPC_NEW(ctx, Metro__Transport__V1__ListLineTripsRequest, metro__transport__v1__list_line_trips_request__init);
  req->route_id = r->route_id;
  req->service_date = r->date;
  req->direction = (char *)dir;
  req->page_size = r->page_size > MAX_TRIPS_PAGE ? MAX_TRIPS_PAGE : r->page_size;
  req->page_token = r->page_token ? r->page_token : "";
  ProtobufCMessage *m;
  st = cached(ctx, PUB_KIND_TRIPS, arena_printf(ctx->arena, "%s:%s", r->route_id, r->date),
              arena_printf(ctx->arena, "%s:%d:%s", *dir ? dir : "both", req->page_size,
                           *req->page_token ? req->page_token : "-"),
              &metro__transport__v1__list_line_trips_response__descriptor, pub_fetch_line_trips, req, &m);
  if (!rpc_ok(st)) return st;
  const Metro__Transport__V1__ListLineTripsResponse *got = (const void *)m;
  Metro__Public__V1__ListLineTripsResponse *resp =
      RPC_NEW(ctx, Metro__Public__V1__ListLineTripsResponse, metro__public__v1__list_line_trips_response__init);
  resp->trips = got->trips;
  resp->n_trips = got->n_trips;
  resp->next_page_token = got->next_page_token;
  *out = &resp->base;
  return RPC_OK;
}

/* Without a time, "now" to the minute on today's date (so one cached answer serves a
 * minute), and the start of the day on any other date. */
static rpc_status list_departures(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__ListDeparturesRequest *r = (const void *)msg;
  long today, day;
  int now, from = 0;
  pub_local_now(&today, &now);
  day = today;
  rpc_status st = station_id_ok(ctx, "stationId", r->station_id);
  if (rpc_ok(st)) st = pub_check_date(ctx, "date", r->date, true, &day);
  if (rpc_ok(st)) {
    if (r->time && *r->time) st = pub_check_clock(ctx, "time", r->time, &from);
    else if (day == today) from = now - now % 60;
  }
  if (rpc_ok(st) && r->limit < 0) st = rpc_invalid(ctx->arena, "limit", "INVALID_LIMIT", "limit must not be negative");
  if (rpc_ok(st) && r->route_id && *r->route_id) st = route_id_ok(ctx, "routeId", r->route_id);
  if (!rpc_ok(st)) return st;
  char date[11];
  pub_day_format(day, date);
  Metro__Transport__V1__ListDeparturesRequest *req =
      RPC_NEW(ctx, Metro__Transport__V1__ListDeparturesRequest, metro__transport__v1__list_departures_request__init);
  req->station_id = r->station_id;
  req->service_date = arena_strdup(ctx->arena, date);
  req->from_time = arena_printf(ctx->arena, "%02d:%02d:%02d", from / 3600, from / 60 % 60, from % 60);
  req->page_size = r->limit == 0 ? DEFAULT_DEPARTURES : r->limit > MAX_DEPARTURES ? MAX_DEPARTURES : r->limit;
  req->route_id = r->route_id && *r->route_id ? r->route_id : "";
  ProtobufCMessage *m;
  st = cached(ctx, PUB_KIND_DEPARTURES, req->service_date,
              arena_printf(ctx->arena, "%s:%s:%d:%s", r->station_id, req->from_time, req->page_size,
                           *req->route_id ? req->route_id : "-"),
              &metro__transport__v1__list_departures_response__descriptor, pub_fetch_departures, req, &m);
  if (!rpc_ok(st)) return st;
  const Metro__Transport__V1__ListDeparturesResponse *got = (const void *)m;
  Metro__Public__V1__ListDeparturesResponse *resp =
      RPC_NEW(ctx, Metro__Public__V1__ListDeparturesResponse, metro__public__v1__list_departures_response__init);
  resp->departures = got->departures;
  resp->n_departures = got->n_departures;
  *out = &resp->base;
  return RPC_OK;
}

/* What transport is asked for a public feed: planned lines only when the service says so. */
static Metro__Transport__V1__ExportGtfsRequest *gtfs_request(rpc_ctx *ctx, const char *start_date, int days,
                                                             bool consumer) {
  const pub_settings *s = &((const pub_state *)ctx->state)->settings;
  Metro__Transport__V1__ExportGtfsRequest *req =
      RPC_NEW(ctx, Metro__Transport__V1__ExportGtfsRequest, metro__transport__v1__export_gtfs_request__init);
  req->start_date = (char *)start_date;
  req->days = days;
  req->consumer_feed = consumer;
  req->exclude_planned = !s->gtfs_include_planned;
  return req;
}

static rpc_status get_gtfs_feed(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__GetGtfsFeedRequest *r = (const void *)msg;
  long day;
  int days = 0;
  bool dated = r->start_date && *r->start_date;
  rpc_status st = pub_check_date(ctx, "startDate", r->start_date, true, &day);
  if (rpc_ok(st) && dated) {
    days = r->days == 0 ? 7 : r->days;
    if (days < 1 || days > 31) st = rpc_invalid(ctx->arena, "days", "INVALID_DAYS", "days must be 1-31");
  } else if (rpc_ok(st) && r->days != 0) {
    st = rpc_invalid(ctx->arena, "days", "INVALID_DAYS", "days needs startDate");
  }
  if (!rpc_ok(st)) return st;
  Metro__Transport__V1__ExportGtfsRequest *req = gtfs_request(ctx, dated ? r->start_date : "", days, false);
  return cached(ctx, PUB_KIND_GTFS, "",
                arena_printf(ctx->arena, "%s:%d:%s", dated ? r->start_date : "all", days,
                             req->exclude_planned ? "open" : "planned"),
                &metro__public__v1__gtfs_feed_file__descriptor, pub_fetch_gtfs, req, out);
}

/* A raw answer with its extra headers (name, value pairs; a NULL value leaves one out). */
static Metro__Api__V1__HttpResponse *raw_answer(rpc_ctx *ctx, int status, const char *content_type,
                                                ProtobufCBinaryData body, const char *const (*headers)[2], int n) {
  Metro__Api__V1__HttpResponse *resp = RPC_NEW(ctx, Metro__Api__V1__HttpResponse, metro__api__v1__http_response__init);
  resp->status = status;
  resp->content_type = (char *)content_type;
  resp->body = body;
  resp->headers = arena_alloc(ctx->arena, sizeof *resp->headers * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    if (!headers[i][1]) continue;
    Metro__Api__V1__HttpHeader *h = RPC_NEW(ctx, Metro__Api__V1__HttpHeader, metro__api__v1__http_header__init);
    h->name = (char *)headers[i][0];
    h->value = (char *)headers[i][1];
    resp->headers[resp->n_headers++] = h;
  }
  return resp;
}

/* The zip itself for transit tools: today and the next days, cached like /v1/gtfs under the
 * same generation (network and timetable events make it stale). Last-Modified is the data's
 * last change, but not before today's local midnight, when the window moved. */
static rpc_status get_gtfs_zip(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Api__V1__HttpRequest *http = (const void *)msg;
  const pub_settings *s = &((const pub_state *)ctx->state)->settings;
  long today;
  int now;
  char date[11];
  pub_local_now(&today, &now);
  pub_day_format(today, date);
  Metro__Transport__V1__ExportGtfsRequest *req =
      gtfs_request(ctx, arena_strdup(ctx->arena, date), (int)s->gtfs_feed_days, true);
  ProtobufCMessage *m;
  rpc_status st = cached(ctx, PUB_KIND_GTFS, "",
                         arena_printf(ctx->arena, "consumer:%s:%d:%s", date, req->days,
                                      req->exclude_planned ? "open" : "planned"),
                         &metro__public__v1__gtfs_feed_file__descriptor, pub_fetch_gtfs, req, &m);
  if (!rpc_ok(st)) return st;
  const Metro__Public__V1__GtfsFeedFile *f = (const void *)m;
  int64_t changed = pb_timestamp_us(f->last_modified) / 1000000,
          midnight = (int64_t)today * 86400 - PUB_LOCAL_UTC_OFFSET_S;
  int64_t modified = changed > midnight ? changed : midnight;
  char *last_modified = arena_alloc(ctx->arena, PUB_HTTP_DATE_LEN); /* read when the answer is packed */
  pub_http_date(modified, last_modified);
  bool fresh = pub_not_modified(http, f->etag, modified);
  const char *const headers[][2] = {
      {"ETag", f->etag},
      {"Last-Modified", last_modified},
      {"Cache-Control", "public, max-age=300"},
      {"Content-Disposition", fresh ? NULL : arena_printf(ctx->arena, "attachment; filename=\"%s\"", f->file_name)},
  };
  ProtobufCBinaryData body = fresh ? (ProtobufCBinaryData){0, NULL} : f->data;
  *out = &raw_answer(ctx, fresh ? 304 : 200, f->content_type, body, headers, 4)->base;
  return RPC_OK;
}

/* ---- fares, passes and discounts (from ticket) ---- */

static rpc_status list_fares(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  return cached(ctx, PUB_KIND_FARES, "", "list", &metro__ticket__v1__list_fares_response__descriptor,
                pub_fetch_fares, NULL, out);
}

/* Ticket is asked a fresh request holding only what the key names (an unpacked request
 * would carry unknown fields along). Its errors (STATION_INACTIVE, NO_ROUTE...) pass through. */
static rpc_status quote_fare(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__QuoteFareRequest *r = (const void *)msg;
  rpc_status st = pub_check_quote(ctx, r);
  if (!rpc_ok(st)) return st;
  const Metro__Ticket__V1__PassengerCounts *p = r->passengers;
  Metro__Ticket__V1__PassengerCounts *counts =
      RPC_NEW(ctx, Metro__Ticket__V1__PassengerCounts, metro__ticket__v1__passenger_counts__init);
  counts->adult = p->adult;
  counts->child = p->child;
  counts->teenager = p->teenager;
  counts->student = p->student;
  counts->senior = p->senior;
  counts->elder = p->elder;
  Metro__Ticket__V1__QuoteFareRequest *req =
      RPC_NEW(ctx, Metro__Ticket__V1__QuoteFareRequest, metro__ticket__v1__quote_fare_request__init);
  req->origin_station_id = r->origin_station_id;
  req->destination_station_id = r->destination_station_id;
  req->trip_type = r->trip_type;
  req->passengers = counts;
  return cached(ctx, PUB_KIND_FARES, "",
                arena_printf(ctx->arena, "%s:%s:%s:%d.%d.%d.%d.%d.%d", r->origin_station_id,
                             r->destination_station_id, r->trip_type, (int)p->adult, (int)p->child, (int)p->teenager,
                             (int)p->student, (int)p->senior, (int)p->elder),
                &metro__ticket__v1__quote__descriptor, pub_fetch_quote, req, out);
}

static rpc_status list_passes(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  return cached(ctx, PUB_KIND_PASSES, "", "list", &metro__ticket__v1__list_passes_response__descriptor,
                pub_fetch_passes, NULL, out);
}

static rpc_status list_passenger_discounts(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  return cached(ctx, PUB_KIND_DISCOUNTS, "", "list", &metro__ticket__v1__list_passenger_discounts_response__descriptor,
                pub_fetch_discounts, NULL, out);
}

/* ---- administration ---- */

static rpc_status flush_cache(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Public__V1__FlushCacheRequest *r = (const void *)msg;
  if (r->n_kinds > MAX_FLUSH_KINDS)
    return rpc_invalid(ctx->arena, "kinds", "INVALID_ARGUMENT", "at most %d kinds", MAX_FLUSH_KINDS);
  bool chosen[PUB_N_KINDS] = {false};
  for (size_t i = 0; i < r->n_kinds; i++) {
    pub_kind k;
    if (!pub_kind_parse(r->kinds[i], &k))
      return rpc_invalid(ctx->arena, "kinds", "UNKNOWN_KIND",
                         "kinds[%zu] must be one of stations, lines, journeys, trips, departures, gtfs, fares, "
                         "passes, discounts",
                         i);
    chosen[k] = true;
  }
  Metro__Public__V1__FlushCacheResponse *resp =
      RPC_NEW(ctx, Metro__Public__V1__FlushCacheResponse, metro__public__v1__flush_cache_response__init);
  resp->kinds = arena_alloc(ctx->arena, sizeof(char *) * PUB_N_KINDS);
  for (int k = 0; k < PUB_N_KINDS; k++) {
    if (r->n_kinds > 0 && !chosen[k]) continue;
    if (!pub_cache_invalidate(ctx->arena, (pub_kind)k, NULL))
      return rpc_error(ctx->arena, GRPC_STATUS_UNAVAILABLE, "CACHE_UNAVAILABLE", "the cache is unreachable");
    resp->kinds[resp->n_kinds++] = (char *)pub_kind_name((pub_kind)k);
  }
  *out = &resp->base;
  return RPC_OK;
}

static const rpc_method_impl methods[] = {
    {"ListStations", list_stations, 0},
    {"GetStation", get_station, 0},
    {"ListLines", list_lines, 0},
    {"GetLine", get_line, 0},
    {"PlanJourney", plan_journey, 0},
    {"ListLineTrips", list_line_trips, 0},
    {"ListDepartures", list_departures, 0},
    {"GetGtfsFeed", get_gtfs_feed, 60000},
    {"GetGtfsZip", get_gtfs_zip, 60000},
    {"ListFares", list_fares, 0},
    {"QuoteFare", quote_fare, 0},
    {"ListPasses", list_passes, 0},
    {"ListPassengerDiscounts", list_passenger_discounts, 0},
    {"FlushCache", flush_cache, 0},
};

const rpc_service_impl public_service_impl = {
    .descriptor = &metro__public__v1__public_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
