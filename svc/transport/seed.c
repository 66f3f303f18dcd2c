/* The demo network on first start (domain spec §3): the stations and lines of the
 * embedded seed/network.json with the demo fleet, in one transaction when the network
 * is empty; then the demo trips of the coming days (§16 fallback rules), idempotently. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "svc/transport/transport.h"

extern const unsigned char transport_seed_network[];
extern const size_t transport_seed_network_len;

static const char *jstr(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static rpc_status seed_fail(rpc_ctx *ctx, const char *what, int index, rpc_status st) {
  log_error("seed/network.json: %s[%d]: %s%s%s", what, index, st.message ? st.message : "invalid",
            st.field ? " at " : "", st.field ? st.field : "");
  (void)ctx;
  return st;
}

static rpc_status seed_stations(rpc_ctx *ctx, json_t *stations) {
  size_t i;
  json_t *j;
  json_array_foreach(stations, i, j) {
    Google__Type__LatLng loc = GOOGLE__TYPE__LAT_LNG__INIT;
    loc.latitude = json_number_value(json_object_get(j, "lat"));
    loc.longitude = json_number_value(json_object_get(j, "lon"));
    Metro__Transport__V1__Station s = METRO__TRANSPORT__V1__STATION__INIT;
    s.station_id = (char *)jstr(j, "id");
    s.name = (char *)jstr(j, "name");
    s.location = &loc;
    s.open_time = (char *)jstr(j, "openTime");
    s.close_time = (char *)jstr(j, "closeTime");
    s.is_active = true;
    char slug[65];
    rpc_status st = tr_validate_station(ctx, "station", &s);
    if (rpc_ok(st) && (!tr_slugify(s.name, slug, sizeof slug) || strcmp(slug, s.station_id) != 0))
      st = rpc_invalid(ctx->arena, "station.stationId", "INVALID_SLUG", "the id is not the slug of the name (%s)", slug);
    if (!rpc_ok(st) || !rpc_ok(st = tr_station_insert(ctx, &s))) return seed_fail(ctx, "stations", (int)i, st);
  }
  return RPC_OK;
}

/* Active trains = ceil(2.4 x (durationMin x 60 + 600) / 180), then ceil(20 %) in maintenance,
 * named Metro-<line number>-<index>. */
static rpc_status seed_fleet(rpc_ctx *ctx, const char *route_id, int line_number, int duration_min) {
  int active, maintenance;
  sched_fleet(duration_min, &active, &maintenance);
  bool express = sched_is_express(duration_min);
  char number[16], cap[16], n_active[16], total[16]; /* room for any int */
  snprintf(number, sizeof number, "%02d", line_number);
  snprintf(cap, sizeof cap, "%d", sched_capacity(express));
  snprintf(n_active, sizeof n_active, "%d", active);
  snprintf(total, sizeof total, "%d", active + maintenance);
  const char *params[6] = {route_id, number, express ? "express" : "standard", cap, n_active, total};
  PGresult *r;
  return pg_exec(ctx->arena, &r,
                 "INSERT INTO trains (train_id, name, type, capacity, route_id, status) "
                 "SELECT gen_random_uuid(), 'Metro-' || $2 || '-' || lpad(g::text, 3, '0'), $3, $4::int, $1, "
                 "CASE WHEN g <= $5::int THEN 'active' ELSE 'maintenance' END FROM generate_series(1, $6::int) g",
                 6, params);
}

static rpc_status seed_lines(rpc_ctx *ctx, json_t *lines, bool all_in_service) {
  size_t i;
  json_t *j;
  json_array_foreach(lines, i, j) {
    Metro__Transport__V1__Line l = METRO__TRANSPORT__V1__LINE__INIT;
    l.route_id = (char *)jstr(j, "id");
    l.code = (char *)jstr(j, "code");
    l.name = (char *)jstr(j, "name");
    l.length_km = json_number_value(json_object_get(j, "lengthKm"));
    l.duration_min = (int)json_integer_value(json_object_get(j, "durationMin"));
    l.status = (char *)jstr(j, "status");
    l.is_active = all_in_service || strcmp(l.status, "operational") == 0;
    l.base_price = 10000;
    l.color = (char *)jstr(j, "color");
    l.text_color = (char *)jstr(j, "textColor");
    json_t *ids = json_object_get(j, "stations");
    size_t n = json_array_size(ids);
    char **stations = arena_alloc(ctx->arena, sizeof(char *) * (n + 1));
    for (size_t k = 0; k < n; k++) stations[k] = (char *)json_string_value(json_array_get(ids, k));
    rpc_status st = tr_validate_line(ctx, "line", &l);
    if (rpc_ok(st)) st = tr_line_insert(ctx, &l);
    if (rpc_ok(st)) st = tr_line_set_stations(ctx, l.route_id, stations, (int)n);
    if (rpc_ok(st)) st = seed_fleet(ctx, l.route_id, (int)i + 1, l.duration_min);
    if (!rpc_ok(st)) return seed_fail(ctx, "lines", (int)i, st);
  }
  return RPC_OK;
}

/* Seeds the network when it has never been seeded and holds no station. */
static rpc_status seed_network(rpc_ctx *ctx, bool all_in_service, bool *seeded) {
  *seeded = false;
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  st = tr_network_touch(ctx); /* the catalog lock: replicas starting together seed once */
  PGresult *r;
  if (rpc_ok(st))
    st = pg_exec(ctx->arena, &r,
                 "SELECT seeded_at IS NULL AND NOT EXISTS (SELECT 1 FROM stations) FROM network_state WHERE id = 1", 0,
                 NULL);
  if (!rpc_ok(st) || strcmp(pg_value(r, 0, 0), "t") != 0) {
    pg_rollback();
    return st;
  }
  json_error_t jerr;
  json_t *doc = json_loadb((const char *)transport_seed_network, transport_seed_network_len, 0, &jerr);
  if (!doc) {
    pg_rollback();
    log_error("seed/network.json: %s at line %d", jerr.text, jerr.line);
    return rpc_internal("bad seed file");
  }
  st = seed_stations(ctx, json_object_get(doc, "stations"));
  if (rpc_ok(st)) st = seed_lines(ctx, json_object_get(doc, "lines"), all_in_service);
  if (rpc_ok(st)) st = pg_exec(ctx->arena, &r, "UPDATE network_state SET seeded_at = now() WHERE id = 1", 0, NULL);
  if (rpc_ok(st)) st = tr_emit_catalog_changed(ctx, "network", "seed");
  json_decref(doc);
  if (!rpc_ok(st)) {
    pg_rollback();
    return st;
  }
  st = pg_commit(ctx->arena);
  *seeded = rpc_ok(st);
  return st;
}

/* st with its strings copied into a (arena_strdup keeps NULL as NULL). */
static rpc_status status_kept(arena *a, rpc_status st) {
  st.message = arena_strdup(a, st.message);
  st.reason = arena_strdup(a, st.reason);
  st.field = arena_strdup(a, st.field);
  return st;
}

/* Trips of the active lines for today and the following days, each (line, date) in its
 * own transaction under the lock BulkUpsertTrips takes. Stops early when asked to. */
static rpc_status seed_trips(rpc_ctx *ctx, int days, atomic_bool *stop) {
  Metro__Transport__V1__Line **lines;
  int n_lines, total = 0, unassigned_total = 0;
  rpc_status st = tr_line_list(ctx, 0, 1000, true, &lines, &n_lines);
  long today = tr_today();
  /* Day by day, so the nearest dates are ready first. */
  for (int d = 0; d < days && rpc_ok(st); d++)
    for (int i = 0; i < n_lines && rpc_ok(st) && !atomic_load(stop); i++) {
      /* Each (line, date) in an arena of its own: one arena for all of them peaked at 200 MB. */
      rpc_ctx day = *ctx;
      day.arena = arena_create(1 << 16);
      day.alloc = arena_protobuf_allocator(day.arena);
      const char *params[2] = {lines[i]->route_id, tr_format_day(day.arena, today + d)};
      PGresult *r;
      int created = 0, unassigned = 0;
      if (rpc_ok(st = pg_begin(day.arena))) {
        st = pg_exec(day.arena, &r,
                     "SELECT pg_advisory_xact_lock(hashtext('metro.transport.trips/' || $1 || '/' || $2))", 2,
                     params);
        if (rpc_ok(st)) st = tr_generate_day(&day, lines[i], today + d, &created, &unassigned);
        if (rpc_ok(st)) st = pg_commit(day.arena);
        else pg_rollback();
      }
      st = status_kept(ctx->arena, st); /* its text may live in the day's arena */
      arena_destroy(day.arena);
      if (!rpc_ok(st)) break;
      total += created;
      unassigned_total += unassigned;
    }
  if (rpc_ok(st) && total > 0)
    log_info("demo trips: %d created for %d days (%d without a train)", total, days, unassigned_total);
  return st;
}

static rpc_ctx *seed_ctx(transport_state *state) {
  arena *a = arena_create(1 << 20);
  rpc_ctx *ctx = arena_alloc(a, sizeof *ctx);
  *ctx = (rpc_ctx){.arena = a, .alloc = arena_protobuf_allocator(a), .method = "seed", .state = state,
                   .deadline_ms = INT64_MAX};
  return ctx;
}

bool tr_seed(transport_state *state) {
  rpc_ctx *ctx = seed_ctx(state);
  bool seeded;
  rpc_status st = seed_network(ctx, strcmp(state->settings.network_in_service, "all") == 0, &seeded);
  if (rpc_ok(st) && seeded) log_info("seeded the demo network (network.json) and its fleet");
  if (!rpc_ok(st)) log_error("seeding failed: %s", st.message ? st.message : "unknown error");
  arena_destroy(ctx->arena);
  return rpc_ok(st);
}

static void *trips_thread(void *arg) {
  transport_state *state = arg;
  rpc_ctx *ctx = seed_ctx(state);
  rpc_status st = seed_trips(ctx, (int)state->settings.demo_trip_days, &state->seed_stop);
  if (!rpc_ok(st)) log_error("demo trips: %s", st.message ? st.message : "unknown error");
  arena_destroy(ctx->arena);
  pg_disconnect();
  return NULL;
}

bool tr_seed_trips_start(transport_state *state) {
  if (state->settings.demo_trip_days <= 0) return true;
  atomic_store(&state->seed_stop, false);
  if (pthread_create(&state->seed_thread, NULL, trips_thread, state) != 0) return false;
  state->seed_running = true;
  return true;
}

void tr_seed_trips_stop(transport_state *state) {
  if (!state->seed_running) return;
  atomic_store(&state->seed_stop, true);
  pthread_join(state->seed_thread, NULL);
  state->seed_running = false;
}
