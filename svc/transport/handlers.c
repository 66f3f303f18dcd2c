/* The transport service's read handlers (network, journeys, timetables, GTFS export) and
 * the handler table of metro.transport.v1.TransportService; the writes are in admin.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/pb_time.h"
#include "common/pg.h"
#include "svc/transport/admin.h"
#include "svc/transport/transport.h"

#define MAX_DEPARTURES 100

rpc_status tr_finish_write(rpc_ctx *ctx, rpc_status st) {
  if (!rpc_ok(st)) {
    pg_rollback();
    return st;
  }
  st = pg_commit(ctx->arena);
  tr_graph_invalidate(ctx->state); /* harmless after a rollback too */
  return st;
}

static rpc_status list_stations(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__ListStationsRequest *r = (const void *)msg;
  int offset, limit, n;
  rpc_status st = tr_page(ctx, r->page_size, r->page_token, 20, 100, &offset, &limit);
  Metro__Transport__V1__Station **stations;
  if (!rpc_ok(st) || !rpc_ok(st = tr_station_list(ctx, offset, limit, &stations, &n))) return st;
  Metro__Transport__V1__ListStationsResponse *resp =
      RPC_NEW(ctx, Metro__Transport__V1__ListStationsResponse, metro__transport__v1__list_stations_response__init);
  resp->stations = stations;
  resp->n_stations = (size_t)n;
  resp->next_page_token = (char *)tr_next_token(ctx, offset, limit, n);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_station(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__GetStationRequest *r = (const void *)msg;
  Metro__Transport__V1__Station *s;
  rpc_status st = tr_require_id(ctx, "stationId", r->station_id);
  if (!rpc_ok(st) || !rpc_ok(st = tr_station_get(ctx, r->station_id, &s))) return st;
  *out = &s->base;
  return RPC_OK;
}

static rpc_status list_lines(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__ListLinesRequest *r = (const void *)msg;
  int offset, limit, n;
  rpc_status st = tr_page(ctx, r->page_size, r->page_token, 20, 100, &offset, &limit);
  Metro__Transport__V1__Line **lines;
  if (!rpc_ok(st) || !rpc_ok(st = tr_line_list(ctx, offset, limit, false, &lines, &n))) return st;
  Metro__Transport__V1__ListLinesResponse *resp =
      RPC_NEW(ctx, Metro__Transport__V1__ListLinesResponse, metro__transport__v1__list_lines_response__init);
  resp->lines = lines;
  resp->n_lines = (size_t)n;
  resp->next_page_token = (char *)tr_next_token(ctx, offset, limit, n);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_line(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__GetLineRequest *r = (const void *)msg;
  Metro__Transport__V1__Line *l;
  rpc_status st = tr_require_id(ctx, "routeId", r->route_id);
  if (!rpc_ok(st) || !rpc_ok(st = tr_line_get(ctx, r->route_id, &l))) return st;
  *out = &l->base;
  return RPC_OK;
}

static rpc_status plan_journey(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__PlanJourneyRequest *r = (const void *)msg;
  Metro__Transport__V1__JourneyPlan *plan;
  rpc_status st = tr_require_id(ctx, "originStationId", r->origin_station_id);
  if (rpc_ok(st)) st = tr_require_id(ctx, "destinationStationId", r->destination_station_id);
  if (!rpc_ok(st) || !rpc_ok(st = tr_plan(ctx, r->origin_station_id, r->destination_station_id, &plan))) return st;
  *out = &plan->base;
  return RPC_OK;
}

static rpc_status require_date(rpc_ctx *ctx, const char *field, const char *value, long *day) {
  if (!value || !*value) return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required", field);
  if (!tr_parse_day(value, day)) return rpc_invalid(ctx->arena, field, "INVALID_DATE", "%s must be YYYY-MM-DD", field);
  return RPC_OK;
}

/* An optional "HH:MM[:SS]"; *seconds = fallback when empty. */
static rpc_status optional_clock(rpc_ctx *ctx, const char *field, const char *value, int fallback, int *seconds) {
  *seconds = fallback;
  if (!value || !*value) return RPC_OK;
  if ((*seconds = tr_parse_clock(value)) < 0)
    return rpc_invalid(ctx->arena, field, "INVALID_TIME", "%s must be HH:MM or HH:MM:SS", field);
  return RPC_OK;
}

static rpc_status list_line_trips(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__ListLineTripsRequest *r = (const void *)msg;
  long day;
  int offset, limit, n;
  Metro__Transport__V1__Line *line;
  rpc_status st = tr_require_id(ctx, "routeId", r->route_id);
  if (rpc_ok(st)) st = require_date(ctx, "serviceDate", r->service_date, &day);
  if (rpc_ok(st) && r->direction && *r->direction && strcmp(r->direction, "outbound") != 0 &&
      strcmp(r->direction, "inbound") != 0)
    st = rpc_invalid(ctx->arena, "direction", "INVALID_DIRECTION", "direction must be outbound, inbound or empty");
  if (rpc_ok(st)) st = tr_page(ctx, r->page_size, r->page_token, 100, 1000, &offset, &limit);
  if (rpc_ok(st)) st = tr_line_get(ctx, r->route_id, &line);
  Metro__Transport__V1__Trip **trips;
  if (!rpc_ok(st) ||
      !rpc_ok(st = tr_trips_of_line(ctx, r->route_id, r->service_date, r->direction, offset, limit, &trips, &n)))
    return st;
  Metro__Transport__V1__ListLineTripsResponse *resp =
      RPC_NEW(ctx, Metro__Transport__V1__ListLineTripsResponse, metro__transport__v1__list_line_trips_response__init);
  resp->trips = trips;
  resp->n_trips = (size_t)n;
  resp->next_page_token = (char *)tr_next_token(ctx, offset, limit, n);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status list_departures(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__ListDeparturesRequest *r = (const void *)msg;
  long today = tr_today(), day = today;
  int from, limit = r->page_size <= 0 ? 10 : r->page_size > MAX_DEPARTURES ? MAX_DEPARTURES : r->page_size, n;
  Metro__Transport__V1__Station *station;
  rpc_status st = tr_require_id(ctx, "stationId", r->station_id);
  if (rpc_ok(st) && r->service_date && *r->service_date) st = require_date(ctx, "serviceDate", r->service_date, &day);
  int now = (int)((time(NULL) + TR_LOCAL_UTC_OFFSET_S) % 86400);
  if (rpc_ok(st)) st = optional_clock(ctx, "fromTime", r->from_time, day == today ? now : 0, &from);
  if (rpc_ok(st) && r->page_size < 0)
    st = rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must not be negative");
  if (rpc_ok(st)) st = tr_station_get(ctx, r->station_id, &station);
  Metro__Transport__V1__Departure **deps;
  if (!rpc_ok(st) || !rpc_ok(st = tr_departures(ctx, r->station_id, day, from, r->route_id, limit, &deps, &n)))
    return st;
  Metro__Transport__V1__ListDeparturesResponse *resp =
      RPC_NEW(ctx, Metro__Transport__V1__ListDeparturesResponse, metro__transport__v1__list_departures_response__init);
  resp->departures = deps;
  resp->n_departures = (size_t)n;
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status list_trips_between(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__ListTripsBetweenRequest *r = (const void *)msg;
  long day;
  int from, offset, limit, n;
  Metro__Transport__V1__Station *a, *b;
  rpc_status st = tr_require_id(ctx, "originStationId", r->origin_station_id);
  if (rpc_ok(st)) st = tr_require_id(ctx, "destinationStationId", r->destination_station_id);
  if (rpc_ok(st) && strcmp(r->origin_station_id, r->destination_station_id) == 0)
    st = rpc_invalid(ctx->arena, "destinationStationId", "SAME_STATION",
                     "the origin and the destination are the same station");
  if (rpc_ok(st)) st = require_date(ctx, "serviceDate", r->service_date, &day);
  if (rpc_ok(st)) st = optional_clock(ctx, "fromTime", r->from_time, 0, &from);
  if (rpc_ok(st)) st = tr_page(ctx, r->page_size, r->page_token, 100, 1000, &offset, &limit);
  if (rpc_ok(st)) st = tr_station_get(ctx, r->origin_station_id, &a);
  if (rpc_ok(st)) st = tr_station_get(ctx, r->destination_station_id, &b);
  Metro__Transport__V1__TripBetween **trips;
  if (!rpc_ok(st) || !rpc_ok(st = tr_trips_between(ctx, r->origin_station_id, r->destination_station_id,
                                                   r->service_date, from, offset, limit, &trips, &n)))
    return st;
  Metro__Transport__V1__ListTripsBetweenResponse *resp = RPC_NEW(
      ctx, Metro__Transport__V1__ListTripsBetweenResponse, metro__transport__v1__list_trips_between_response__init);
  resp->trips = trips;
  resp->n_trips = (size_t)n;
  resp->next_page_token = (char *)tr_next_token(ctx, offset, limit, n);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status export_gtfs(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__ExportGtfsRequest *r = (const void *)msg;
  tr_gtfs_request req = {.consumer = r->consumer_feed, .exclude_planned = r->exclude_planned};
  bool dated = r->start_date && *r->start_date;
  if (dated && !tr_parse_day(r->start_date, &req.first_day))
    return rpc_invalid(ctx->arena, "startDate", "INVALID_DATE", "startDate must be YYYY-MM-DD");
  if (!dated && r->days != 0 && !req.consumer)
    return rpc_invalid(ctx->arena, "days", "INVALID_DAYS", "days needs startDate");
  if (dated || req.consumer) {
    if (!dated) req.first_day = tr_today();
    req.days = r->days != 0 ? r->days : req.consumer ? 30 : 7;
    if (req.days < 1 || req.days > 31) return rpc_invalid(ctx->arena, "days", "INVALID_DAYS", "days must be 1-31");
  }
  Metro__Transport__V1__GtfsFeed *feed =
      RPC_NEW(ctx, Metro__Transport__V1__GtfsFeed, metro__transport__v1__gtfs_feed__init);
  tr_gtfs_feed got = {0};
  /* One snapshot for every table the feed reads. */
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = pg_exec(ctx->arena, NULL, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL);
  if (rpc_ok(st)) st = tr_gtfs_export(ctx, &req, &got);
  if (!rpc_ok(st)) {
    pg_rollback();
    return st;
  }
  if (!rpc_ok(st = pg_commit(ctx->arena))) return st;
  feed->zip = (ProtobufCBinaryData){got.len, got.zip};
  feed->trips = got.trips;
  feed->feed_version = (char *)got.version;
  feed->last_modified = pb_timestamp(ctx, got.last_modified_us);
  *out = &feed->base;
  return RPC_OK;
}

static rpc_status list_trains(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__ListTrainsRequest *r = (const void *)msg;
  int offset, limit, n;
  rpc_status st = tr_page(ctx, r->page_size, r->page_token, 20, 100, &offset, &limit);
  Metro__Transport__V1__Train **trains;
  if (!rpc_ok(st) || !rpc_ok(st = tr_train_list(ctx, offset, limit, r->route_id, r->status, &trains, &n))) return st;
  Metro__Transport__V1__ListTrainsResponse *resp =
      RPC_NEW(ctx, Metro__Transport__V1__ListTrainsResponse, metro__transport__v1__list_trains_response__init);
  resp->trains = trains;
  resp->n_trains = (size_t)n;
  resp->next_page_token = (char *)tr_next_token(ctx, offset, limit, n);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_train(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Transport__V1__GetTrainRequest *r = (const void *)msg;
  Metro__Transport__V1__Train *t;
  rpc_status st = tr_require_id(ctx, "trainId", r->train_id);
  if (!rpc_ok(st) || !rpc_ok(st = tr_train_get(ctx, r->train_id, &t))) return st;
  *out = &t->base;
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
    {"ListTripsBetween", list_trips_between, 0},
    {"ExportGtfs", export_gtfs, 60000},
    {"ListTrains", list_trains, 0},
    {"GetTrain", get_train, 0},
    {"BulkUpsertTrips", tr_admin_bulk_upsert_trips, 60000},
    {"ImportGtfs", tr_admin_import_gtfs, 120000},
    {"CreateStation", tr_admin_create_station, 0},
    {"UpdateStation", tr_admin_update_station, 0},
    {"DeleteStation", tr_admin_delete_station, 0},
    {"CreateLine", tr_admin_create_line, 0},
    {"UpdateLine", tr_admin_update_line, 0},
    {"DeleteLine", tr_admin_delete_line, 0},
    {"SetLineStations", tr_admin_set_line_stations, 0},
    {"CreateTrain", tr_admin_create_train, 0},
    {"UpdateTrain", tr_admin_update_train, 0},
    {"DeleteTrain", tr_admin_delete_train, 0},
    {"SetTrainStatus", tr_admin_set_train_status, 0},
};

const rpc_service_impl transport_service_impl = {
    .descriptor = &metro__transport__v1__transport_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
