/* Trips and stops of the transport service: the timetable reads (a line's trips, next
 * departures, trips between two stations), bulk inserts through unnest() arrays, and
 * the demo seed's generation of one line's day with the spec §16 fallback rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "svc/transport/strbuf.h"
#include "svc/transport/transport.h"

#define DIRECTION_ORDER "CASE t.direction WHEN 'outbound' THEN 0 ELSE 1 END"

static int int_or(const char *v, int none) { return v ? atoi(v) : none; }

static char *dup_value(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return arena_strdup(ctx->arena, v ? v : "");
}

/* Fills trips[].stops from rows (trip_id, station_id, arrival, departure) ordered like trips. */
static void attach_stops(rpc_ctx *ctx, const PGresult *r, tr_trip *trips, int n) {
  int rows = PQntuples(r), row = 0;
  for (int i = 0; i < n; i++) {
    int first = row;
    while (row < rows && strcmp(pg_value(r, row, 0), trips[i].trip_id) == 0) row++;
    trips[i].n_stops = row - first;
    trips[i].stops = arena_alloc(ctx->arena, sizeof(tr_stop) * (size_t)(trips[i].n_stops + 1));
    for (int k = first; k < row; k++)
      trips[i].stops[k - first] = (tr_stop){dup_value(ctx, r, k, 1), int_or(pg_value(r, k, 2), -1),
                                            int_or(pg_value(r, k, 3), -1)};
  }
}

/* Rows (trip_id, route_id, service_date, direction, train_id, departure, arrival). */
static tr_trip *rows_to_trips(rpc_ctx *ctx, const PGresult *r, int *n) {
  *n = PQntuples(r);
  tr_trip *trips = arena_alloc(ctx->arena, sizeof(tr_trip) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) {
    const char *train = pg_value(r, i, 4);
    trips[i] = (tr_trip){.trip_id = dup_value(ctx, r, i, 0), .route_id = dup_value(ctx, r, i, 1),
                         .service_date = dup_value(ctx, r, i, 2),
                         .inbound = strcmp(pg_value(r, i, 3), "inbound") == 0,
                         .train_id = train ? arena_strdup(ctx->arena, train) : NULL,
                         .departure = atoi(pg_value(r, i, 5)), .arrival = atoi(pg_value(r, i, 6))};
  }
  return trips;
}

static const char *uuid_array(rpc_ctx *ctx, const tr_trip *trips, int n) {
  strbuf b;
  sb_init(&b, ctx->arena, (size_t)n * 38 + 4);
  sb_putc(&b, '{');
  for (int i = 0; i < n; i++) {
    if (i) sb_putc(&b, ',');
    sb_puts(&b, trips[i].trip_id);
  }
  sb_putc(&b, '}');
  return b.data;
}

rpc_status tr_trips_of_line(rpc_ctx *ctx, const char *route_id, const char *date, const char *direction, int offset,
                            int limit, Metro__Transport__V1__Trip ***out, int *n) {
  char off[16], lim[16];
  snprintf(off, sizeof off, "%d", offset);
  snprintf(lim, sizeof lim, "%d", limit);
  const char *params[5] = {route_id, date, direction && *direction ? direction : NULL, off, lim};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT t.trip_id, t.route_id, t.service_date::text, t.direction, t.train_id, t.departure, "
                          "t.arrival FROM trips t WHERE t.route_id = $1 AND t.service_date = $2::date "
                          "AND ($3::text IS NULL OR t.direction = $3) "
                          "ORDER BY t.departure, " DIRECTION_ORDER ", t.trip_id OFFSET $4 LIMIT $5",
                          5, params);
  if (!rpc_ok(st)) return st;
  tr_trip *trips = rows_to_trips(ctx, r, n);
  const char *ids[1] = {uuid_array(ctx, trips, *n)};
  st = pg_exec(ctx->arena, &r,
               "SELECT s.trip_id, s.station_id, s.arrival, s.departure FROM stops s "
               "JOIN unnest($1::uuid[]) WITH ORDINALITY AS u(id, ord) ON s.trip_id = u.id ORDER BY u.ord, s.sequence",
               1, ids);
  if (!rpc_ok(st)) return st;
  attach_stops(ctx, r, trips, *n);
  *out = arena_alloc(ctx->arena, sizeof(**out) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) (*out)[i] = tr_trip_to_proto(ctx, &trips[i]);
  return RPC_OK;
}

rpc_status tr_departures(rpc_ctx *ctx, const char *station_id, long day, int from_s, const char *route_id, int limit,
                         Metro__Transport__V1__Departure ***out, int *n) {
  char from[16], lim[16];
  snprintf(from, sizeof from, "%d", from_s);
  snprintf(lim, sizeof lim, "%d", limit);
  const char *params[5] = {station_id, tr_format_day(ctx->arena, day), from, route_id && *route_id ? route_id : NULL,
                           lim};
  PGresult *r;
  /* Trips of the previous service date still running after midnight count too. */
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "SELECT t.trip_id, t.route_id, t.direction, t.service_date::text, s.departure, t.train_id, "
      "(SELECT e.station_id FROM stops e WHERE e.trip_id = t.trip_id ORDER BY e.sequence DESC LIMIT 1) "
      "FROM stops s JOIN trips t USING (trip_id) "
      "WHERE s.station_id = $1 AND s.departure IS NOT NULL AND ($4::text IS NULL OR t.route_id = $4) "
      "AND ((s.service_date = $2::date AND s.departure >= $3::int) "
      "  OR (s.service_date = $2::date - 1 AND s.departure >= $3::int + 86400)) "
      "ORDER BY (s.service_date - $2::date) * 86400 + s.departure, " DIRECTION_ORDER ", t.trip_id LIMIT $5",
      5, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *out = arena_alloc(ctx->arena, sizeof(**out) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) {
    Metro__Transport__V1__Departure *d =
        RPC_NEW(ctx, Metro__Transport__V1__Departure, metro__transport__v1__departure__init);
    d->trip_id = dup_value(ctx, r, i, 0);
    d->route_id = dup_value(ctx, r, i, 1);
    d->direction = dup_value(ctx, r, i, 2);
    d->service_date = dup_value(ctx, r, i, 3);
    d->departure = tr_format_clock(ctx->arena, atoi(pg_value(r, i, 4)));
    d->train_id = dup_value(ctx, r, i, 5);
    d->headsign_station_id = dup_value(ctx, r, i, 6);
    (*out)[i] = d;
  }
  return RPC_OK;
}

rpc_status tr_trips_between(rpc_ctx *ctx, const char *origin, const char *dest, const char *date, int from_s,
                            int offset, int limit, Metro__Transport__V1__TripBetween ***out, int *n) {
  char from[16], off[16], lim[16];
  snprintf(from, sizeof from, "%d", from_s);
  snprintf(off, sizeof off, "%d", offset);
  snprintf(lim, sizeof lim, "%d", limit);
  const char *params[6] = {origin, dest, date, from, off, lim};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT t.trip_id, t.route_id, t.direction, t.service_date::text, a.departure, b.arrival, "
                          "t.train_id FROM stops a JOIN stops b ON b.trip_id = a.trip_id AND b.sequence > a.sequence "
                          "JOIN trips t ON t.trip_id = a.trip_id "
                          "WHERE a.station_id = $1 AND b.station_id = $2 AND a.service_date = $3::date "
                          "AND a.departure >= $4::int AND b.arrival IS NOT NULL "
                          "ORDER BY a.departure, " DIRECTION_ORDER ", t.trip_id OFFSET $5 LIMIT $6",
                          6, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *out = arena_alloc(ctx->arena, sizeof(**out) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) {
    Metro__Transport__V1__TripBetween *t =
        RPC_NEW(ctx, Metro__Transport__V1__TripBetween, metro__transport__v1__trip_between__init);
    t->trip_id = dup_value(ctx, r, i, 0);
    t->route_id = dup_value(ctx, r, i, 1);
    t->direction = dup_value(ctx, r, i, 2);
    t->service_date = dup_value(ctx, r, i, 3);
    t->departure = tr_format_clock(ctx->arena, atoi(pg_value(r, i, 4)));
    t->arrival = tr_format_clock(ctx->arena, atoi(pg_value(r, i, 5)));
    t->train_id = dup_value(ctx, r, i, 6);
    (*out)[i] = t;
  }
  return RPC_OK;
}

rpc_status tr_trip_count(rpc_ctx *ctx, const char *route_id, const char *date, int *n) {
  const char *params[2] = {route_id, date};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT count(*) FROM trips WHERE route_id = $1 AND service_date = $2::date",
                          2, params);
  if (rpc_ok(st)) *n = atoi(pg_value(r, 0, 0));
  return st;
}

/* Records that the trips of these (line, date) pairs (two array literals) changed now: the GTFS
 * feed's Last-Modified. The caller holds each pair's advisory lock, so no writer waits here. */
static rpc_status note_changes(rpc_ctx *ctx, const char *routes, const char *dates) {
  const char *params[2] = {routes, dates};
  PGresult *r;
  return pg_exec(ctx->arena, &r,
                 "INSERT INTO timetable_changes (route_id, service_date, changed_at) "
                 "SELECT route_id, service_date, clock_timestamp() FROM (SELECT DISTINCT * FROM "
                 "unnest($1::text[], $2::date[]) AS u(route_id, service_date)) pairs "
                 "ON CONFLICT (route_id, service_date) DO UPDATE SET changed_at = EXCLUDED.changed_at",
                 2, params);
}

rpc_status tr_trips_delete(rpc_ctx *ctx, const char *route_id, const char *date) {
  const char *params[2] = {route_id, date};
  PGresult *r;
  rpc_status st =
      pg_exec(ctx->arena, &r, "DELETE FROM trips WHERE route_id = $1 AND service_date = $2::date", 2, params);
  if (rpc_ok(st))
    st = note_changes(ctx, arena_printf(ctx->arena, "{%s}", route_id), arena_printf(ctx->arena, "{%s}", date));
  return st;
}

static void put_int_or_null(strbuf *b, int v) {
  if (v < 0)
    sb_puts(b, "NULL");
  else
    sb_printf(b, "%d", v);
}

#define INSERT_CHUNK 1000 /* trips per statement pair */

static rpc_status insert_chunk(rpc_ctx *ctx, const tr_trip *trips, int n) {
  strbuf id, route, date, dir, train, dep, arr;
  strbuf *trip_cols[] = {&id, &route, &date, &dir, &train, &dep, &arr};
  for (size_t c = 0; c < 7; c++) {
    sb_init(trip_cols[c], ctx->arena, (size_t)n * 40 + 8);
    sb_putc(trip_cols[c], '{');
  }
  int total_stops = 0;
  for (int i = 0; i < n; i++) {
    const tr_trip *t = &trips[i];
    const char *sep = i ? "," : "";
    sb_printf(&id, "%s%s", sep, t->trip_id);
    sb_printf(&route, "%s%s", sep, t->route_id);
    sb_printf(&date, "%s%s", sep, t->service_date);
    sb_printf(&dir, "%s%s", sep, t->inbound ? "inbound" : "outbound");
    sb_printf(&train, "%s%s", sep, t->train_id ? t->train_id : "NULL");
    sb_printf(&dep, "%s%d", sep, t->departure);
    sb_printf(&arr, "%s%d", sep, t->arrival);
    total_stops += t->n_stops;
  }
  for (size_t c = 0; c < 7; c++) sb_putc(trip_cols[c], '}');
  const char *tp[7] = {id.data, route.data, date.data, dir.data, train.data, dep.data, arr.data};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO trips (trip_id, route_id, service_date, direction, train_id, departure, arrival) "
                          "SELECT * FROM unnest($1::uuid[], $2::text[], $3::date[], $4::text[], $5::uuid[], $6::int[], "
                          "$7::int[])",
                          7, tp);
  if (!rpc_ok(st) || !rpc_ok(st = note_changes(ctx, route.data, date.data))) return st;
  strbuf sid, seq, station, sday, sarr, sdep;
  strbuf *stop_cols[] = {&sid, &seq, &station, &sday, &sarr, &sdep};
  for (size_t c = 0; c < 6; c++) {
    sb_init(stop_cols[c], ctx->arena, (size_t)total_stops * (c == 0 ? 38 : 12) + 8);
    sb_putc(stop_cols[c], '{');
  }
  bool first = true;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < trips[i].n_stops; k++) {
      const char *sep = first ? "" : ",";
      first = false;
      const tr_stop *s = &trips[i].stops[k];
      sb_printf(&sid, "%s%s", sep, trips[i].trip_id);
      sb_printf(&seq, "%s%d", sep, k + 1);
      sb_printf(&station, "%s%s", sep, s->station_id);
      sb_printf(&sday, "%s%s", sep, trips[i].service_date);
      sb_puts(&sarr, sep);
      put_int_or_null(&sarr, s->arrival);
      sb_puts(&sdep, sep);
      put_int_or_null(&sdep, s->departure);
    }
  for (size_t c = 0; c < 6; c++) sb_putc(stop_cols[c], '}');
  const char *sp[6] = {sid.data, seq.data, station.data, sday.data, sarr.data, sdep.data};
  return pg_exec(ctx->arena, &r,
                 "INSERT INTO stops (trip_id, sequence, station_id, service_date, arrival, departure) "
                 "SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::date[], $5::int[], $6::int[])",
                 6, sp);
}

rpc_status tr_trips_insert(rpc_ctx *ctx, const tr_trip *trips, int n) {
  for (int i = 0; i < n; i += INSERT_CHUNK) {
    rpc_status st = insert_chunk(ctx, trips + i, n - i < INSERT_CHUNK ? n - i : INSERT_CHUNK);
    if (!rpc_ok(st)) return st;
  }
  return RPC_OK;
}

#define EXPORT_ORDER "t.service_date, l.position, " DIRECTION_ORDER ", t.departure, t.trip_id"

rpc_status tr_trips_all(rpc_ctx *ctx, long first_day, int days, tr_trip **out, int *n) {
  const char *params[2] = {days > 0 ? tr_format_day(ctx->arena, first_day) : NULL,
                           days > 0 ? tr_format_day(ctx->arena, first_day + days) : NULL};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT t.trip_id, t.route_id, t.service_date::text, t.direction, t.train_id, t.departure, "
                          "t.arrival FROM trips t JOIN lines l USING (route_id) "
                          "WHERE $1::date IS NULL OR (t.service_date >= $1::date AND t.service_date < $2::date) "
                          "ORDER BY " EXPORT_ORDER,
                          2, params);
  if (!rpc_ok(st)) return st;
  *out = rows_to_trips(ctx, r, n);
  st = pg_exec(ctx->arena, &r,
               "SELECT s.trip_id, s.station_id, s.arrival, s.departure FROM stops s JOIN trips t USING (trip_id) "
               "JOIN lines l ON l.route_id = t.route_id "
               "WHERE $1::date IS NULL OR (t.service_date >= $1::date AND t.service_date < $2::date) "
               "ORDER BY " EXPORT_ORDER ", s.sequence",
               2, params);
  if (!rpc_ok(st)) return st;
  attach_stops(ctx, r, *out, *n);
  return RPC_OK;
}

/* How many active lines serve each station of the line, in sequence order. */
static rpc_status station_line_counts(rpc_ctx *ctx, const char *route_id, int *counts, int cap, int *n) {
  const char *params[1] = {route_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT (SELECT count(*) FROM line_stations x JOIN lines l USING (route_id) "
                          "WHERE x.station_id = ls.station_id AND l.is_active) "
                          "FROM line_stations ls WHERE ls.route_id = $1 ORDER BY ls.sequence",
                          1, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r) < cap ? PQntuples(r) : cap;
  for (int i = 0; i < *n; i++) counts[i] = atoi(pg_value(r, i, 0));
  return RPC_OK;
}

rpc_status tr_generate_day(rpc_ctx *ctx, const Metro__Transport__V1__Line *line, long day, int *created,
                           int *unassigned) {
  const transport_state *state = ctx->state;
  *created = *unassigned = 0;
  const char *date = tr_format_day(ctx->arena, day);
  int existing;
  rpc_status st = tr_trip_count(ctx, line->route_id, date, &existing);
  if (!rpc_ok(st) || existing > 0 || line->n_stations < 2) return st;
  const char **trains;
  int n_trains, counts[TR_MAX_LINE_STATIONS], n_stations;
  if (!rpc_ok(st = tr_train_active_ids(ctx, line->route_id, &trains, &n_trains))) return st;
  if (n_trains == 0) return RPC_OK; /* NO_ACTIVE_TRAINS: no trips */
  if (!rpc_ok(st = station_line_counts(ctx, line->route_id, counts, TR_MAX_LINE_STATIONS, &n_stations))) return st;
  sched_line sl = {.duration_min = line->duration_min, .n_stations = n_stations, .station_lines = counts,
                   .n_trains = n_trains};
  /* The one generator (svc/control/generator), with the fallback bands of the day type. */
  const sched_band *bands;
  int n_bands = sched_fallback_bands(sched_is_weekend(day), &bands);
  sched_day plan;
  if (!sched_day_build(&state->rules, &sl, bands, n_bands, &plan)) return rpc_internal("out of memory");
  int n = plan.n_trips;
  *unassigned = plan.unassigned;
  tr_trip *trips = arena_alloc(ctx->arena, sizeof(tr_trip) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    char *id = arena_alloc(ctx->arena, CRYPTO_UUID_LEN + 1);
    crypto_uuid_v4(id);
    const sched_trip *p = &plan.trips[i];
    tr_trip *t = &trips[i];
    *t = (tr_trip){.trip_id = id, .route_id = line->route_id, .service_date = date, .inbound = p->inbound,
                   .train_id = p->train >= 0 ? trains[p->train] : NULL,
                   .departure = p->departure, .arrival = p->arrival, .n_stops = n_stations};
    t->stops = arena_alloc(ctx->arena, sizeof(tr_stop) * (size_t)n_stations);
    for (int k = 0; k < n_stations; k++) {
      int station = p->inbound ? n_stations - 1 - k : k;
      t->stops[k] = (tr_stop){line->stations[station]->station_id, sched_day_arrival(&plan, i, k),
                              sched_day_departure(&plan, i, k)};
    }
  }
  sched_day_free(&plan);
  if (!rpc_ok(st = tr_trips_insert(ctx, trips, n))) return st;
  *created = n;
  return RPC_OK;
}
