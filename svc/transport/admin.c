/* The transport service's write handlers: stations, lines, line stations and trains
 * (validated field by field, one transaction each, catalog.changed and station events
 * through the outbox), BulkUpsertTrips for the control service and GTFS import. */
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "common/field_mask.h"
#include "common/pg.h"
#include "svc/transport/admin.h"
#include "svc/transport/transport.h"

/* ---- update masks ---- */

/* A mask path may name a field inside one: "location.latitude" names "location". */
static rpc_status mask_bits(rpc_ctx *ctx, const Google__Protobuf__FieldMask *mask, const fm_path *paths,
                            unsigned *bits) {
  return fm_mask_bits(ctx->arena, mask, paths, true, "INVALID_UPDATE_MASK", bits);
}

static bool has(const char *s) { return s && *s; }

static ProtobufCMessage *empty(rpc_ctx *ctx) {
  return &RPC_NEW(ctx, Google__Protobuf__Empty, google__protobuf__empty__init)->base;
}

/* Runs `st` (the result of the writes) to commit or rollback. */
#define FINISH(ctx, st) tr_finish_write((ctx), (st))

static rpc_status begin_catalog_write(rpc_ctx *ctx) {
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = tr_network_touch(ctx);
  if (!rpc_ok(st)) pg_rollback();
  return st;
}

/* ---- stations ---- */

enum { ST_NAME = 1, ST_LOCATION = 2, ST_OPEN = 4, ST_CLOSE = 8, ST_ACTIVE = 16 };
static const fm_path station_paths[] = {{"name", ST_NAME},        {"location", ST_LOCATION},
                                        {"open_time", ST_OPEN},   {"close_time", ST_CLOSE},
                                        {"is_active", ST_ACTIVE}, {NULL, 0}};

TR_ADMIN_HANDLER(tr_admin_create_station) {
  const Metro__Transport__V1__CreateStationRequest *r = (const void *)msg;
  if (!r->station) return rpc_invalid(ctx->arena, "station", "FIELD_REQUIRED", "station is required");
  Metro__Transport__V1__Station s = *r->station;
  char slug[65];
  if (!has(s.station_id) && has(s.name) && tr_slugify(s.name, slug, sizeof slug)) s.station_id = slug;
  if (!has(s.open_time)) s.open_time = "05:00";
  if (!has(s.close_time)) s.close_time = "23:00";
  s.is_active = true; /* new stations open; UpdateStation closes them */
  rpc_status st = tr_validate_station(ctx, "station", &s);
  if (!rpc_ok(st) || !rpc_ok(st = begin_catalog_write(ctx))) return st;
  st = tr_station_insert(ctx, &s);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "station", s.station_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  Metro__Transport__V1__Station *created;
  if (!rpc_ok(st = tr_station_get(ctx, s.station_id, &created))) return st;
  *out = &created->base;
  return RPC_OK;
}

TR_ADMIN_HANDLER(tr_admin_update_station) {
  const Metro__Transport__V1__UpdateStationRequest *r = (const void *)msg;
  rpc_status st = tr_require_id(ctx, "stationId", r->station_id);
  if (!rpc_ok(st)) return st;
  if (!r->station) return rpc_invalid(ctx->arena, "station", "FIELD_REQUIRED", "station is required");
  const Metro__Transport__V1__Station *in = r->station;
  if (has(in->station_id) && strcmp(in->station_id, r->station_id) != 0)
    return rpc_invalid(ctx->arena, "station.stationId", "IMMUTABLE_FIELD", "a station's id cannot change");
  unsigned bits;
  if (!rpc_ok(st = mask_bits(ctx, r->update_mask, station_paths, &bits))) return st;
  if (!r->update_mask || r->update_mask->n_paths == 0)
    bits = (has(in->name) ? ST_NAME : 0) | (in->location ? ST_LOCATION : 0) | (has(in->open_time) ? ST_OPEN : 0) |
           (has(in->close_time) ? ST_CLOSE : 0) | (in->is_active ? ST_ACTIVE : 0);
  if ((bits & ST_LOCATION) && !in->location)
    return rpc_invalid(ctx->arena, "station.location", "FIELD_REQUIRED", "station.location is required");
  if (!rpc_ok(st = begin_catalog_write(ctx))) return st;
  Metro__Transport__V1__Station *cur;
  if (!rpc_ok(st = tr_station_get(ctx, r->station_id, &cur))) return FINISH(ctx, st);
  bool was_active = cur->is_active;
  Metro__Transport__V1__Station merged = *cur;
  if (bits & ST_NAME) merged.name = in->name;
  if (bits & ST_LOCATION) merged.location = in->location;
  if (bits & ST_OPEN) merged.open_time = in->open_time;
  if (bits & ST_CLOSE) merged.close_time = in->close_time;
  if (bits & ST_ACTIVE) merged.is_active = in->is_active;
  st = tr_validate_station(ctx, "station", &merged);
  if (rpc_ok(st)) st = tr_station_update(ctx, &merged);
  if (rpc_ok(st)) st = tr_emit_station_status(ctx, merged.station_id, merged.name, was_active, merged.is_active, r->reason);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "station", merged.station_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  Metro__Transport__V1__Station *updated;
  if (!rpc_ok(st = tr_station_get(ctx, r->station_id, &updated))) return st;
  *out = &updated->base;
  return RPC_OK;
}

TR_ADMIN_HANDLER(tr_admin_delete_station) {
  const Metro__Transport__V1__DeleteStationRequest *r = (const void *)msg;
  rpc_status st = tr_require_id(ctx, "stationId", r->station_id);
  if (!rpc_ok(st) || !rpc_ok(st = begin_catalog_write(ctx))) return st;
  st = tr_station_delete(ctx, r->station_id);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "station", r->station_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  *out = empty(ctx);
  return RPC_OK;
}

/* ---- lines ---- */

enum {
  LN_CODE = 1, LN_NAME = 2, LN_LENGTH = 4, LN_DURATION = 8, LN_STATUS = 16, LN_ACTIVE = 32, LN_PRICE = 64,
  LN_COLOR = 128, LN_TEXT_COLOR = 256
};
static const fm_path line_paths[] = {
    {"code", LN_CODE},         {"name", LN_NAME},         {"length_km", LN_LENGTH}, {"duration_min", LN_DURATION},
    {"status", LN_STATUS},     {"is_active", LN_ACTIVE},  {"base_price", LN_PRICE}, {"color", LN_COLOR},
    {"text_color", LN_TEXT_COLOR}, {NULL, 0}};

static rpc_status answer_line(rpc_ctx *ctx, const char *route_id, ProtobufCMessage **out) {
  Metro__Transport__V1__Line *l;
  rpc_status st = tr_line_get(ctx, route_id, &l);
  if (rpc_ok(st)) *out = &l->base;
  return st;
}

TR_ADMIN_HANDLER(tr_admin_create_line) {
  const Metro__Transport__V1__CreateLineRequest *r = (const void *)msg;
  if (!r->line) return rpc_invalid(ctx->arena, "line", "FIELD_REQUIRED", "line is required");
  Metro__Transport__V1__Line l = *r->line;
  char slug[101];
  if (!has(l.route_id) && has(l.name) && tr_slugify(l.name, slug, sizeof slug)) l.route_id = slug;
  if (!has(l.status)) l.status = "planned";
  if (l.base_price == 0) l.base_price = 10000;
  l.n_stations = 0;
  rpc_status st = tr_validate_line(ctx, "line", &l);
  if (!rpc_ok(st) || !rpc_ok(st = begin_catalog_write(ctx))) return st;
  st = tr_line_insert(ctx, &l);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "line", l.route_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  return answer_line(ctx, l.route_id, out);
}

TR_ADMIN_HANDLER(tr_admin_update_line) {
  const Metro__Transport__V1__UpdateLineRequest *r = (const void *)msg;
  rpc_status st = tr_require_id(ctx, "routeId", r->route_id);
  if (!rpc_ok(st)) return st;
  if (!r->line) return rpc_invalid(ctx->arena, "line", "FIELD_REQUIRED", "line is required");
  const Metro__Transport__V1__Line *in = r->line;
  if (has(in->route_id) && strcmp(in->route_id, r->route_id) != 0)
    return rpc_invalid(ctx->arena, "line.routeId", "IMMUTABLE_FIELD", "a line's id cannot change");
  unsigned bits;
  if (!rpc_ok(st = mask_bits(ctx, r->update_mask, line_paths, &bits))) return st;
  if (!r->update_mask || r->update_mask->n_paths == 0)
    bits = (has(in->code) ? LN_CODE : 0) | (has(in->name) ? LN_NAME : 0) | (in->length_km != 0 ? LN_LENGTH : 0) |
           (in->duration_min != 0 ? LN_DURATION : 0) | (has(in->status) ? LN_STATUS : 0) |
           (in->is_active ? LN_ACTIVE : 0) | (in->base_price != 0 ? LN_PRICE : 0) | (has(in->color) ? LN_COLOR : 0) |
           (has(in->text_color) ? LN_TEXT_COLOR : 0);
  if (!rpc_ok(st = begin_catalog_write(ctx))) return st;
  Metro__Transport__V1__Line *cur;
  if (!rpc_ok(st = tr_line_get(ctx, r->route_id, &cur))) return FINISH(ctx, st);
  Metro__Transport__V1__Line merged = *cur;
  if (bits & LN_CODE) merged.code = in->code;
  if (bits & LN_NAME) merged.name = in->name;
  if (bits & LN_LENGTH) merged.length_km = in->length_km;
  if (bits & LN_DURATION) merged.duration_min = in->duration_min;
  if (bits & LN_STATUS) merged.status = in->status;
  if (bits & LN_ACTIVE) merged.is_active = in->is_active;
  if (bits & LN_PRICE) merged.base_price = in->base_price;
  if (bits & LN_COLOR) merged.color = in->color;
  if (bits & LN_TEXT_COLOR) merged.text_color = in->text_color;
  st = tr_validate_line(ctx, "line", &merged);
  if (rpc_ok(st)) st = tr_line_update(ctx, &merged);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "line", merged.route_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  return answer_line(ctx, r->route_id, out);
}

TR_ADMIN_HANDLER(tr_admin_delete_line) {
  const Metro__Transport__V1__DeleteLineRequest *r = (const void *)msg;
  rpc_status st = tr_require_id(ctx, "routeId", r->route_id);
  if (!rpc_ok(st) || !rpc_ok(st = begin_catalog_write(ctx))) return st;
  st = tr_line_delete(ctx, r->route_id);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "line", r->route_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  *out = empty(ctx);
  return RPC_OK;
}

TR_ADMIN_HANDLER(tr_admin_set_line_stations) {
  const Metro__Transport__V1__SetLineStationsRequest *r = (const void *)msg;
  rpc_status st = tr_require_id(ctx, "routeId", r->route_id);
  if (!rpc_ok(st)) return st;
  if (r->n_station_ids < 2 || r->n_station_ids > TR_MAX_LINE_STATIONS)
    return rpc_invalid(ctx->arena, "stationIds", "INVALID_STATIONS", "stationIds must list 2 to %d stations",
                       TR_MAX_LINE_STATIONS);
  for (size_t i = 0; i < r->n_station_ids; i++) {
    const char *f = arena_printf(ctx->arena, "stationIds[%zu]", i);
    if (!tr_valid_slug(r->station_ids[i], 64))
      return rpc_invalid(ctx->arena, f, "INVALID_SLUG", "%s is not a station id", f);
    for (size_t k = 0; k < i; k++)
      if (strcmp(r->station_ids[k], r->station_ids[i]) == 0)
        return rpc_invalid(ctx->arena, f, "DUPLICATE_STATION", "%s repeats a station: a line passes a station once", f);
  }
  if (!rpc_ok(st = begin_catalog_write(ctx))) return st;
  Metro__Transport__V1__Line *line;
  st = tr_line_get(ctx, r->route_id, &line);
  if (rpc_ok(st)) st = tr_line_set_stations(ctx, r->route_id, r->station_ids, (int)r->n_station_ids);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "line", r->route_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  return answer_line(ctx, r->route_id, out);
}

/* ---- trains ---- */

enum { TN_NAME = 1, TN_TYPE = 2, TN_CAPACITY = 4, TN_ROUTE = 8, TN_STATUS = 16 };
static const fm_path train_paths[] = {{"name", TN_NAME},      {"type", TN_TYPE},     {"capacity", TN_CAPACITY},
                                      {"route_id", TN_ROUTE}, {"status", TN_STATUS}, {NULL, 0}};

static rpc_status answer_train(rpc_ctx *ctx, const char *train_id, ProtobufCMessage **out) {
  Metro__Transport__V1__Train *t;
  rpc_status st = tr_train_get(ctx, train_id, &t);
  if (rpc_ok(st)) *out = &t->base;
  return st;
}

TR_ADMIN_HANDLER(tr_admin_create_train) {
  const Metro__Transport__V1__CreateTrainRequest *r = (const void *)msg;
  if (!r->train) return rpc_invalid(ctx->arena, "train", "FIELD_REQUIRED", "train is required");
  Metro__Transport__V1__Train t = *r->train;
  char id[CRYPTO_UUID_LEN + 1];
  crypto_uuid_v4(id);
  t.train_id = id;
  if (!has(t.status)) t.status = "active";
  if (t.capacity == 0 && has(t.type)) t.capacity = sched_capacity(strcmp(t.type, "express") == 0);
  rpc_status st = tr_validate_train(ctx, "train", &t);
  if (!rpc_ok(st) || !rpc_ok(st = begin_catalog_write(ctx))) return st;
  st = tr_train_insert(ctx, &t);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "train", id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  return answer_train(ctx, id, out);
}

/* Applies `bits` of `in` to the stored train and writes it. */
static rpc_status change_train(rpc_ctx *ctx, const char *train_id, const Metro__Transport__V1__Train *in,
                               unsigned bits, ProtobufCMessage **out) {
  rpc_status st = begin_catalog_write(ctx);
  if (!rpc_ok(st)) return st;
  Metro__Transport__V1__Train *cur;
  if (!rpc_ok(st = tr_train_get(ctx, train_id, &cur))) return FINISH(ctx, st);
  Metro__Transport__V1__Train merged = *cur;
  if (bits & TN_NAME) merged.name = in->name;
  if (bits & TN_TYPE) merged.type = in->type;
  if (bits & TN_CAPACITY) merged.capacity = in->capacity;
  if (bits & TN_ROUTE) merged.route_id = in->route_id;
  if (bits & TN_STATUS) merged.status = in->status;
  st = tr_validate_train(ctx, "train", &merged);
  if (rpc_ok(st)) st = tr_train_update(ctx, &merged);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "train", train_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  return answer_train(ctx, train_id, out);
}

TR_ADMIN_HANDLER(tr_admin_update_train) {
  const Metro__Transport__V1__UpdateTrainRequest *r = (const void *)msg;
  rpc_status st = tr_require_id(ctx, "trainId", r->train_id);
  if (!rpc_ok(st)) return st;
  if (!r->train) return rpc_invalid(ctx->arena, "train", "FIELD_REQUIRED", "train is required");
  const Metro__Transport__V1__Train *in = r->train;
  if (has(in->train_id) && strcmp(in->train_id, r->train_id) != 0)
    return rpc_invalid(ctx->arena, "train.trainId", "IMMUTABLE_FIELD", "a train's id cannot change");
  unsigned bits;
  if (!rpc_ok(st = mask_bits(ctx, r->update_mask, train_paths, &bits))) return st;
  if (!r->update_mask || r->update_mask->n_paths == 0)
    bits = (has(in->name) ? TN_NAME : 0) | (has(in->type) ? TN_TYPE : 0) | (in->capacity != 0 ? TN_CAPACITY : 0) |
           (has(in->route_id) ? TN_ROUTE : 0) | (has(in->status) ? TN_STATUS : 0);
  return change_train(ctx, r->train_id, in, bits, out);
}

TR_ADMIN_HANDLER(tr_admin_delete_train) {
  const Metro__Transport__V1__DeleteTrainRequest *r = (const void *)msg;
  rpc_status st = tr_require_id(ctx, "trainId", r->train_id);
  if (!rpc_ok(st) || !rpc_ok(st = begin_catalog_write(ctx))) return st;
  st = tr_train_delete(ctx, r->train_id);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "train", r->train_id);
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  *out = empty(ctx);
  return RPC_OK;
}

TR_ADMIN_HANDLER(tr_admin_set_train_status) {
  const Metro__Transport__V1__SetTrainStatusRequest *r = (const void *)msg;
  rpc_status st = tr_require_id(ctx, "trainId", r->train_id);
  if (!rpc_ok(st)) return st;
  if (!has(r->status)) return rpc_invalid(ctx->arena, "status", "FIELD_REQUIRED", "status is required");
  Metro__Transport__V1__Train in = METRO__TRANSPORT__V1__TRAIN__INIT;
  in.status = r->status;
  st = change_train(ctx, r->train_id, &in, TN_STATUS, out);
  /* The request names the field "status", not "train.status". */
  if (st.field && strcmp(st.field, "train.status") == 0) st.field = "status";
  return st;
}

/* ---- trips ---- */

static bool train_of_line(const char *train_id, const Metro__Transport__V1__Train *const *trains, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(trains[i]->train_id, train_id) == 0) return true;
  return false;
}

TR_ADMIN_HANDLER(tr_admin_bulk_upsert_trips) {
  const Metro__Transport__V1__BulkUpsertTripsRequest *r = (const void *)msg;
  long day;
  rpc_status st = tr_require_id(ctx, "routeId", r->route_id);
  if (!rpc_ok(st)) return st;
  if (!tr_parse_day(r->service_date, &day))
    return rpc_invalid(ctx->arena, "serviceDate", "INVALID_DATE", "serviceDate must be YYYY-MM-DD");
  if (r->n_trips > TR_MAX_TRIPS_PER_DAY)
    return rpc_invalid(ctx->arena, "trips", "TOO_MANY_TRIPS", "at most %d trips per line and day", TR_MAX_TRIPS_PER_DAY);
  if (r->replace && day <= tr_today())
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PAST_DATE",
                     "replace regenerates future service dates only");
  Metro__Transport__V1__Line *line;
  Metro__Transport__V1__Train **trains;
  int n_trains;
  if (!rpc_ok(st = tr_line_get(ctx, r->route_id, &line))) return st;
  if (!rpc_ok(st = tr_train_list(ctx, 0, 100000, r->route_id, NULL, &trains, &n_trains))) return st;
  tr_trip *trips = arena_alloc(ctx->arena, sizeof(tr_trip) * (r->n_trips + 1));
  int unassigned = 0;
  for (size_t i = 0; i < r->n_trips; i++) {
    const char *prefix = arena_printf(ctx->arena, "trips[%zu]", i);
    if (!rpc_ok(st = tr_trip_from_proto(ctx, prefix, line, r->service_date, r->trips[i], &trips[i]))) return st;
    if (trips[i].train_id && !train_of_line(trips[i].train_id, (const void *)trains, n_trains))
      return rpc_invalid(ctx->arena, arena_printf(ctx->arena, "%s.trainId", prefix), "TRAIN_NOT_ON_LINE",
                         "%s.trainId is not a train of line %s", prefix, r->route_id);
    for (size_t k = 0; k < i; k++)
      if (strcmp(trips[k].trip_id, trips[i].trip_id) == 0)
        return rpc_invalid(ctx->arena, arena_printf(ctx->arena, "%s.tripId", prefix), "DUPLICATE_TRIP",
                           "%s.tripId repeats another trip", prefix);
    unassigned += trips[i].train_id == NULL;
  }
  Metro__Transport__V1__BulkUpsertTripsResponse *resp = RPC_NEW(
      ctx, Metro__Transport__V1__BulkUpsertTripsResponse, metro__transport__v1__bulk_upsert_trips_response__init);
  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  const char *params[2] = {r->route_id, r->service_date};
  PGresult *res;
  /* One writer per (line, service date): concurrent runs of the control service see each other. */
  st = pg_exec(ctx->arena, &res, "SELECT pg_advisory_xact_lock(hashtext('metro.transport.trips/' || $1 || '/' || $2))",
               2, params);
  int existing = 0;
  if (rpc_ok(st)) st = tr_trip_count(ctx, r->route_id, r->service_date, &existing);
  if (rpc_ok(st) && existing > 0 && !r->replace) {
    resp->trips_kept = existing;
  } else if (rpc_ok(st)) {
    if (existing > 0) st = tr_trips_delete(ctx, r->route_id, r->service_date);
    if (rpc_ok(st)) st = tr_trips_insert(ctx, trips, (int)r->n_trips);
    if (st.code == GRPC_STATUS_ALREADY_EXISTS)
      st = rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "TRIP_EXISTS", "a trip id is already used on another day");
    resp->trips_created = (int)r->n_trips;
    resp->unassigned_trips = unassigned;
    resp->replaced = existing > 0;
  }
  if (!rpc_ok(st)) {
    pg_rollback();
    return st;
  }
  if (!rpc_ok(st = pg_commit(ctx->arena))) return st;
  *out = &resp->base;
  return RPC_OK;
}

TR_ADMIN_HANDLER(tr_admin_import_gtfs) {
  const Metro__Transport__V1__ImportGtfsRequest *r = (const void *)msg;
  if (r->zip.len == 0) return rpc_invalid(ctx->arena, "zip", "FIELD_REQUIRED", "zip is required");
  Metro__Transport__V1__ImportGtfsResponse *resp =
      RPC_NEW(ctx, Metro__Transport__V1__ImportGtfsResponse, metro__transport__v1__import_gtfs_response__init);
  rpc_status st = begin_catalog_write(ctx);
  if (!rpc_ok(st)) return st;
  st = tr_gtfs_import(ctx, r->zip.data, r->zip.len, resp);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "network", "gtfs");
  if (!rpc_ok(st = FINISH(ctx, st))) return st;
  *out = &resp->base;
  return RPC_OK;
}
