/* The control schema: demand slots added to by ticket.used, the forecast's inputs (dates of data,
 * the last dates of a day type and their slots), the holiday calendar, and the record of each
 * generated (line, date) written with its schedule.generated event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "metro/events/v1/schedule_events.pb-c.h"
#include "svc/control/control.h"

static const char *num(rpc_ctx *ctx, long v) { return arena_printf(ctx->arena, "%ld", v); }

rpc_status ct_demand_add(rpc_ctx *ctx, const char *route_id, long day, bool inbound, int hour, int passengers) {
  const char *params[] = {route_id, ct_format_day(ctx->arena, day), inbound ? "inbound" : "outbound", num(ctx, hour),
                          num(ctx, passengers)};
  return pg_exec(ctx->arena, NULL,
                 "INSERT INTO demand (route_id, service_date, direction, hour, passengers) "
                 "VALUES ($1, $2::date, $3, $4::smallint, $5::bigint) "
                 "ON CONFLICT (route_id, service_date, direction, hour) "
                 "DO UPDATE SET passengers = demand.passengers + EXCLUDED.passengers",
                 5, params);
}

/* The slots of the last CT_WEIGHTS dates of a day type before the cutoff, newest first:
 * isodow 1-7, or 0 for the holidays of the calendar. Weekdays leave holidays out. */
static rpc_status load_samples(rpc_ctx *ctx, const char *route_id, const char *cutoff, int isodow, ct_hours **out,
                               int *n) {
  const char *params[] = {route_id, cutoff, num(ctx, isodow), num(ctx, CT_WEIGHTS)};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "WITH days AS (SELECT d FROM (SELECT DISTINCT service_date AS d FROM demand "
      "  WHERE route_id = $1 AND service_date < $2::date) s "
      "  WHERE CASE WHEN $3::int = 0 THEN EXISTS (SELECT 1 FROM holidays h WHERE h.holiday_date = s.d) "
      "    ELSE extract(isodow FROM s.d) = $3::int "
      "      AND NOT EXISTS (SELECT 1 FROM holidays h WHERE h.holiday_date = s.d) "
      "  END ORDER BY d DESC LIMIT $4::int) "
      "SELECT dense_rank() OVER (ORDER BY m.service_date DESC), m.direction = 'inbound', m.hour, m.passengers "
      "FROM demand m JOIN days ON m.service_date = days.d WHERE m.route_id = $1",
      4, params);
  if (!rpc_ok(st)) return st;
  ct_hours *days = arena_alloc(ctx->arena, sizeof(ct_hours) * CT_WEIGHTS);
  int count = 0;
  for (int i = 0; i < PQntuples(r); i++) {
    int rank = atoi(pg_value(r, i, 0)), hour = atoi(pg_value(r, i, 2));
    if (rank < 1 || rank > CT_WEIGHTS || hour < 0 || hour > 23) continue;
    if (rank > count) count = rank;
    days[rank - 1].pax[strcmp(pg_value(r, i, 1), "t") == 0][hour] = strtod(pg_value(r, i, 3), NULL);
  }
  *out = days;
  *n = count;
  return RPC_OK;
}

rpc_status ct_forecast_load(rpc_ctx *ctx, const char *route_id, long day, long today, ct_forecast *out) {
  const char *date = ct_format_day(ctx->arena, day);
  const char *cutoff = ct_format_day(ctx->arena, day < today ? day : today); /* today's data is partial */
  const char *params[] = {route_id, date, cutoff};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT EXISTS (SELECT 1 FROM holidays WHERE holiday_date = $2::date), "
                          "(SELECT count(DISTINCT service_date) FROM demand "
                          " WHERE route_id = $1 AND service_date < $3::date)",
                          3, params);
  if (!rpc_ok(st)) return st;
  bool holiday = strcmp(pg_value(r, 0, 0), "t") == 0;
  ct_forecast_input in = {.day_type = ct_day_type(day, holiday), .data_days = atoi(pg_value(r, 0, 1))};
  if (in.data_days >= CT_MODEL_MIN_DAYS) {
    ct_hours *samples;
    st = load_samples(ctx, route_id, cutoff, holiday ? 0 : in.day_type + 1, &samples, &in.n_samples);
    in.samples = samples;
    if (rpc_ok(st) && holiday && in.n_samples < CT_HOLIDAY_MIN_SAMPLES) {
      ct_hours *sundays;
      st = load_samples(ctx, route_id, cutoff, 7, &sundays, &in.n_sundays);
      in.sundays = sundays;
    }
    if (!rpc_ok(st)) return st;
  }
  ct_forecast_compute(&in, out);
  return RPC_OK;
}

rpc_status ct_holiday_insert(rpc_ctx *ctx, long day, const char *name) {
  const char *params[] = {ct_format_day(ctx->arena, day), name};
  rpc_status st =
      pg_exec(ctx->arena, NULL, "INSERT INTO holidays (holiday_date, name) VALUES ($1::date, $2)", 2, params);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS)
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "HOLIDAY_EXISTS", "%s is already a holiday", params[0]);
  return st;
}

rpc_status ct_holiday_delete(rpc_ctx *ctx, long day, bool *deleted) {
  const char *params[] = {ct_format_day(ctx->arena, day)};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "DELETE FROM holidays WHERE holiday_date = $1::date RETURNING 1", 1, params);
  if (rpc_ok(st)) *deleted = PQntuples(r) > 0;
  return st;
}

rpc_status ct_holiday_list(rpc_ctx *ctx, const char *after_us, const char *after_id, int limit,
                           Metro__Control__V1__Holiday ***out, const char ***ids, int *n) {
  /* The page token holds the date as µs since the epoch (its UTC midnight) and the row's id. */
  const char *params[] = {after_us, after_id, num(ctx, limit)};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT holiday_date::text, name, holiday_id::text FROM holidays "
                          "WHERE $1::bigint IS NULL OR (holiday_date, holiday_id) > "
                          "('1970-01-01'::date + ($1::bigint / 86400000000)::int, $2::uuid) "
                          "ORDER BY holiday_date, holiday_id LIMIT $3::int",
                          3, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *out = arena_alloc(ctx->arena, sizeof(**out) * (size_t)(*n + 1));
  *ids = arena_alloc(ctx->arena, sizeof(char *) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) {
    Metro__Control__V1__Holiday *h = RPC_NEW(ctx, Metro__Control__V1__Holiday, metro__control__v1__holiday__init);
    h->date = arena_strdup(ctx->arena, pg_value(r, i, 0));
    h->name = arena_strdup(ctx->arena, pg_value(r, i, 1));
    (*out)[i] = h;
    (*ids)[i] = arena_strdup(ctx->arena, pg_value(r, i, 2));
  }
  return RPC_OK;
}

rpc_status ct_run_record(rpc_ctx *ctx, const Metro__Control__V1__ScheduleRun *run) {
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  const char *params[] = {run->route_id,
                          run->service_date,
                          run->source,
                          num(ctx, run->trips_created),
                          num(ctx, run->trips_kept),
                          num(ctx, run->unassigned_trips),
                          run->replaced ? "t" : "f"};
  st = pg_exec(ctx->arena, NULL,
               "INSERT INTO schedule_runs (route_id, service_date, source, trips_created, trips_kept, "
               "unassigned_trips, replaced) VALUES ($1, $2::date, $3, $4::int, $5::int, $6::int, $7::boolean)",
               7, params);
  if (rpc_ok(st)) {
    Metro__Events__V1__ScheduleGenerated ev = METRO__EVENTS__V1__SCHEDULE_GENERATED__INIT;
    ev.route_id = run->route_id;
    ev.service_date = run->service_date;
    ev.trips_created = run->trips_created;
    ev.unassigned_trips = run->unassigned_trips;
    ev.source = run->source;
    st = ev_publish(ctx->arena, "schedule.generated", run->route_id, &ev.base, ctx->traceparent);
  }
  if (!rpc_ok(st)) {
    pg_rollback();
    return st;
  }
  return pg_commit(ctx->arena);
}
