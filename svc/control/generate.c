/* Schedule generation (spec §16): for each (line, service date) the forecast or the fallback
 * gives the band headways, the shared generator (svc/control/generator) plans both directions
 * with stop times and trains, transport's BulkUpsertTrips writes them (idempotent, `replace` in
 * one transaction), and the run is recorded with its schedule.generated event. */
#include <string.h>

#include "common/log.h"
#include "svc/control/control.h"

void ct_plan_bands(const ct_state *st, const ct_forecast *f, long day, int capacity, int fleet_headway,
                   sched_band *bands, double *demand, int *n) {
  (void)day;
  if (f->model) {
    ct_model_bands(&f->hours, capacity, &st->limits, bands, demand);
    *n = SCHED_N_SERVICE_BANDS;
  } else {
    const sched_band *table;
    /* Weekend and holiday share the fallback table. */
    *n = sched_fallback_bands(f->day_type >= 5, &table);
    for (int i = 0; i < *n; i++) {
      bands[i] = table[i];
      demand[i] = 0;
    }
  }
  for (int i = 0; i < *n; i++)
    if (bands[i].headway < fleet_headway) bands[i].headway = fleet_headway;
}

/* The active trains of one line, asked once per call. */
typedef struct line_fleet {
  const char **ids;
  int n, capacity;
} line_fleet;

static Metro__Transport__V1__Trip *trip_proto(rpc_ctx *u, const ct_line *line, const sched_day *plan, int i,
                                              const line_fleet *fleet) {
  const sched_trip *p = &plan->trips[i];
  Metro__Transport__V1__Trip *t = RPC_NEW(u, Metro__Transport__V1__Trip, metro__transport__v1__trip__init);
  t->direction = p->inbound ? "inbound" : "outbound";
  t->train_id = p->train >= 0 ? (char *)fleet->ids[p->train] : "";
  t->departure = ct_format_clock(u->arena, p->departure);
  t->arrival = ct_format_clock(u->arena, p->arrival);
  int n = line->n_stations;
  t->n_stops = (size_t)n;
  t->stops = arena_alloc(u->arena, sizeof(*t->stops) * (size_t)n);
  for (int k = 0; k < n; k++) {
    Metro__Transport__V1__Stop *s = RPC_NEW(u, Metro__Transport__V1__Stop, metro__transport__v1__stop__init);
    s->station_id = (char *)line->stations[p->inbound ? n - 1 - k : k];
    s->sequence = k + 1;
    s->arrival = ct_format_clock(u->arena, sched_day_arrival(plan, i, k));
    s->departure = ct_format_clock(u->arena, sched_day_departure(plan, i, k));
    t->stops[k] = s;
  }
  return t;
}

/* One (line, date): plan, write through transport, record and publish. Strings of `run` live in ctx. */
static rpc_status run_unit(rpc_ctx *ctx, const ct_line *line, const line_fleet *fleet, long day, long today,
                           bool replace, Metro__Control__V1__ScheduleRun *run) {
  const ct_state *st = ct_st(ctx);
  rpc_ctx u = *ctx; /* each unit's messages die with it: a 14-day run stays small */
  u.arena = arena_create(1 << 20);
  u.alloc = arena_protobuf_allocator(u.arena);
  ct_forecast f;
  rpc_status s = ct_forecast_load(&u, line->route_id, day, today, &f);
  if (!rpc_ok(s)) { /* "on any error, the fallback headways apply" */
    log_warn("forecast of %s on %s failed (%s): fallback headways", line->route_id, run->service_date,
             s.message ? s.message : "error");
    memset(&f, 0, sizeof f);
    f.day_type = ct_day_type(day, false);
  }
  sched_line sl = {.duration_min = line->duration_min, .n_stations = line->n_stations,
                   .station_lines = line->station_lines, .n_trains = fleet->n};
  int capacity = fleet->capacity > 0 ? fleet->capacity : sched_capacity(sched_is_express(line->duration_min));
  sched_band bands[SCHED_N_SERVICE_BANDS];
  double demand[SCHED_N_SERVICE_BANDS];
  int n_bands;
  ct_plan_bands(st, &f, day, capacity, sched_fleet_headway(line->duration_min, st->rules.turnaround_s, fleet->n),
                bands, demand, &n_bands);
  run->source = f.model ? "forecast" : "fallback";
  for (int b = 0; b < n_bands; b++) {
    if (run->headway_min_s == 0 || bands[b].headway < run->headway_min_s) run->headway_min_s = bands[b].headway;
    if (bands[b].headway > run->headway_max_s) run->headway_max_s = bands[b].headway;
  }
  sched_day plan;
  if (!sched_day_build(&st->rules, &sl, bands, n_bands, &plan)) {
    arena_destroy(u.arena);
    return rpc_internal("control: out of memory planning a day");
  }
  Metro__Transport__V1__BulkUpsertTripsRequest req = METRO__TRANSPORT__V1__BULK_UPSERT_TRIPS_REQUEST__INIT;
  req.route_id = (char *)line->route_id;
  req.service_date = (char *)run->service_date;
  req.replace = replace;
  req.n_trips = (size_t)plan.n_trips;
  req.trips = arena_alloc(u.arena, sizeof(*req.trips) * (size_t)(plan.n_trips + 1));
  for (int i = 0; i < plan.n_trips; i++) req.trips[i] = trip_proto(&u, line, &plan, i, fleet);
  sched_day_free(&plan);
  Metro__Transport__V1__BulkUpsertTripsResponse *resp;
  s = ct_bulk_upsert(&u, &req, &resp);
  if (rpc_ok(s)) {
    run->trips_created = resp->trips_created;
    run->trips_kept = resp->trips_kept;
    run->unassigned_trips = resp->unassigned_trips;
    run->replaced = resp->replaced;
    s = ct_run_record(&u, run);
  }
  if (!rpc_ok(s)) { /* the status outlives the unit's arena */
    s.message = arena_printf(ctx->arena, "%s %s: %s", line->route_id, run->service_date, s.message ? s.message : "");
    s.reason = s.reason ? arena_strdup(ctx->arena, s.reason) : NULL;
    s.field = NULL;
  }
  arena_destroy(u.arena);
  return s;
}

rpc_status ct_generate(rpc_ctx *ctx, const Metro__Control__V1__GenerateSchedulesRequest *r,
                       Metro__Control__V1__GenerateSchedulesResponse **out) {
  long today = ct_today(), first = today;
  if (r->date && *r->date && !ct_parse_day(r->date, &first))
    return rpc_invalid(ctx->arena, "date", "INVALID_DATE", "date must be YYYY-MM-DD (empty = today)");
  int days = r->days == 0 ? 1 : r->days;
  if (days < 1 || days > CT_MAX_DAYS)
    return rpc_invalid(ctx->arena, "days", "INVALID_DAYS", "days must be 1-%d", CT_MAX_DAYS);
  if (r->replace && first <= today)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "PAST_DATE",
                     "replace regenerates future service dates only (from tomorrow)");
  ct_network *net;
  rpc_status st = ct_network_get(ctx, true, &net);
  if (!rpc_ok(st)) return st;
  const ct_line **lines = arena_alloc(ctx->arena, sizeof(ct_line *) * (size_t)(net->n_lines + 1));
  int n_lines = 0;
  bool one = r->route_id && *r->route_id;
  if (one) {
    const ct_line *l = ct_network_line(net, r->route_id);
    if (!l) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "LINE_NOT_FOUND", "no line %s", r->route_id);
    if (!l->is_active)
      return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "LINE_INACTIVE", "line %s is not in service",
                       r->route_id);
    lines[n_lines++] = l;
  } else {
    for (int i = 0; i < net->n_lines; i++)
      if (net->lines[i].is_active) lines[n_lines++] = &net->lines[i];
  }
  line_fleet *fleets = arena_alloc(ctx->arena, sizeof(line_fleet) * (size_t)(n_lines + 1));
  for (int i = 0; i < n_lines; i++) {
    st = ct_active_trains(ctx, lines[i]->route_id, &fleets[i].ids, &fleets[i].n, &fleets[i].capacity);
    if (!rpc_ok(st)) return st;
  }
  if (one && fleets[0].n == 0)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "NO_ACTIVE_TRAINS", "line %s has no active train",
                     r->route_id);
  Metro__Control__V1__GenerateSchedulesResponse *resp = RPC_NEW(
      ctx, Metro__Control__V1__GenerateSchedulesResponse, metro__control__v1__generate_schedules_response__init);
  resp->runs = arena_alloc(ctx->arena, sizeof(*resp->runs) * (size_t)(days * n_lines + 1));
  /* Day by day, so the nearest dates are ready first. */
  for (int d = 0; d < days; d++)
    for (int i = 0; i < n_lines; i++) {
      Metro__Control__V1__ScheduleRun *run =
          RPC_NEW(ctx, Metro__Control__V1__ScheduleRun, metro__control__v1__schedule_run__init);
      run->route_id = (char *)lines[i]->route_id;
      run->service_date = ct_format_day(ctx->arena, first + d);
      resp->runs[resp->n_runs++] = run;
      if (fleets[i].n == 0) { /* spec §16: a line with no active train gets no trips */
        run->source = "fallback";
        run->skipped = "NO_ACTIVE_TRAINS";
        resp->skipped++;
        continue;
      }
      if (!rpc_ok(st = run_unit(ctx, lines[i], &fleets[i], first + d, today, r->replace, run))) return st;
      resp->trips_created += run->trips_created;
      resp->trips_kept += run->trips_kept;
      resp->unassigned_trips += run->unassigned_trips;
    }
  log_info("schedules: %d dates from %s, %d lines: %d trips created, %d kept, %d unassigned", days,
           ct_format_day(ctx->arena, first), n_lines, resp->trips_created, resp->trips_kept, resp->unassigned_trips);
  *out = resp;
  return RPC_OK;
}
