/* The control service's methods and their table: schedule generation (generate.c), a line's
 * forecast with the band headways it gives, and the holiday calendar (admin-only, proto options). */
#include <string.h>

#include "common/page_token.h"
#include "svc/control/control.h"

#define MAX_NAME 100

static ProtobufCMessage *empty(rpc_ctx *ctx) {
  return &RPC_NEW(ctx, Google__Protobuf__Empty, google__protobuf__empty__init)->base;
}

static rpc_status generate_schedules(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  Metro__Control__V1__GenerateSchedulesResponse *resp;
  rpc_status st = ct_generate(ctx, (const void *)msg, &resp);
  if (rpc_ok(st)) *out = &resp->base;
  return st;
}

static rpc_status date_or_today(rpc_ctx *ctx, const char *field, const char *value, long *day) {
  *day = ct_today();
  if (value && *value && !ct_parse_day(value, day))
    return rpc_invalid(ctx->arena, field, "INVALID_DATE", "%s must be YYYY-MM-DD (empty = today)", field);
  return RPC_OK;
}

static const char *basis_name(ct_basis b) {
  return b == CT_BASIS_DAY_TYPE ? "day_type" : b == CT_BASIS_SUNDAY ? "sunday_x0.6" : "";
}

static rpc_status get_line_forecast(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Control__V1__GetLineForecastRequest *r = (const void *)msg;
  if (!r->route_id || !*r->route_id) return rpc_invalid(ctx->arena, "routeId", "FIELD_REQUIRED", "routeId is required");
  long day;
  rpc_status st = date_or_today(ctx, "date", r->date, &day);
  ct_network *net;
  if (!rpc_ok(st) || !rpc_ok(st = ct_network_get(ctx, false, &net))) return st;
  const ct_line *line = ct_network_line(net, r->route_id);
  if (!line && rpc_ok(st = ct_network_get(ctx, true, &net))) line = ct_network_line(net, r->route_id); /* a new line */
  if (!rpc_ok(st)) return st;
  if (!line) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "LINE_NOT_FOUND", "no line %s", r->route_id);
  ct_forecast f;
  const char **ids;
  int n_trains, capacity;
  if (!rpc_ok(st = ct_forecast_load(ctx, line->route_id, day, ct_today(), &f))) return st;
  if (!rpc_ok(st = ct_active_trains(ctx, line->route_id, &ids, &n_trains, &capacity))) return st;
  if (capacity <= 0) capacity = sched_capacity(sched_is_express(line->duration_min));
  const ct_state *s = ct_st(ctx);
  int fleet = sched_fleet_headway(line->duration_min, s->rules.turnaround_s, n_trains);
  sched_band bands[SCHED_N_SERVICE_BANDS];
  double demand[SCHED_N_SERVICE_BANDS];
  int n_bands;
  ct_plan_bands(s, &f, day, capacity, fleet, bands, demand, &n_bands);

  Metro__Control__V1__LineForecast *resp =
      RPC_NEW(ctx, Metro__Control__V1__LineForecast, metro__control__v1__line_forecast__init);
  resp->route_id = (char *)line->route_id;
  resp->service_date = ct_format_day(ctx->arena, day);
  resp->day_type = (char *)ct_day_type_name(f.day_type);
  resp->method = f.model ? "model" : "fallback";
  resp->data_days = f.data_days;
  resp->samples = f.samples;
  resp->basis = (char *)basis_name(f.basis);
  resp->capacity = capacity;
  resp->active_trains = n_trains;
  resp->fleet_headway_s = fleet;
  if (f.model) {
    resp->hours = arena_alloc(ctx->arena, sizeof(*resp->hours) * 24);
    for (int h = 0; h < 24; h++) {
      Metro__Control__V1__HourForecast *hf =
          RPC_NEW(ctx, Metro__Control__V1__HourForecast, metro__control__v1__hour_forecast__init);
      hf->hour = h;
      hf->outbound = f.hours.pax[0][h];
      hf->inbound = f.hours.pax[1][h];
      resp->hours[resp->n_hours++] = hf;
    }
  }
  resp->bands = arena_alloc(ctx->arena, sizeof(*resp->bands) * (size_t)n_bands);
  for (int b = 0; b < n_bands; b++) {
    Metro__Control__V1__BandHeadway *bh =
        RPC_NEW(ctx, Metro__Control__V1__BandHeadway, metro__control__v1__band_headway__init);
    bh->start = ct_format_hhmm(ctx->arena, bands[b].start);
    bh->end = ct_format_hhmm(ctx->arena, bands[b].end);
    bh->demand = demand[b];
    bh->headway_s = bands[b].headway;
    resp->bands[resp->n_bands++] = bh;
  }
  *out = &resp->base;
  return RPC_OK;
}

/* ---- holidays ---- */

static rpc_status list_holidays(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Control__V1__ListHolidaysRequest *r = (const void *)msg;
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "hol", r->page_size, r->page_token, 50, 366, &cur);
  Metro__Control__V1__Holiday **rows;
  const char **ids;
  int n;
  if (!rpc_ok(st) || !rpc_ok(st = ct_holiday_list(ctx, cur.after_us, cur.after_id, cur.page_size + 1, &rows, &ids, &n)))
    return st;
  Metro__Control__V1__ListHolidaysResponse *resp =
      RPC_NEW(ctx, Metro__Control__V1__ListHolidaysResponse, metro__control__v1__list_holidays_response__init);
  int shown = n > cur.page_size ? cur.page_size : n;
  resp->holidays = rows;
  resp->n_holidays = (size_t)shown;
  if (n > cur.page_size) {
    long day;
    ct_parse_day(rows[shown - 1]->date, &day);
    resp->next_page_token = (char *)page_token_make(ctx, "hol", (int64_t)day * 86400 * 1000000, ids[shown - 1]);
  }
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status create_holiday(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Control__V1__CreateHolidayRequest *r = (const void *)msg;
  if (!r->holiday) return rpc_invalid(ctx->arena, "holiday", "FIELD_REQUIRED", "holiday is required");
  const Metro__Control__V1__Holiday *h = r->holiday;
  long day;
  if (!h->date || !*h->date)
    return rpc_invalid(ctx->arena, "holiday.date", "FIELD_REQUIRED", "holiday.date is required");
  if (!ct_parse_day(h->date, &day))
    return rpc_invalid(ctx->arena, "holiday.date", "INVALID_DATE", "holiday.date must be YYYY-MM-DD");
  size_t len = h->name ? strlen(h->name) : 0;
  if (len == 0) return rpc_invalid(ctx->arena, "holiday.name", "FIELD_REQUIRED", "holiday.name is required");
  if (len > MAX_NAME * 4) /* bytes of UTF-8; at most MAX_NAME characters below */
    return rpc_invalid(ctx->arena, "holiday.name", "INVALID_NAME", "holiday.name is at most %d characters", MAX_NAME);
  size_t chars = 0;
  for (const unsigned char *p = (const void *)h->name; *p; p++) {
    if (*p < 0x20 || *p == 0x7f)
      return rpc_invalid(ctx->arena, "holiday.name", "INVALID_NAME", "holiday.name holds a control character");
    chars += (*p & 0xc0) != 0x80;
  }
  if (chars > MAX_NAME)
    return rpc_invalid(ctx->arena, "holiday.name", "INVALID_NAME", "holiday.name is at most %d characters", MAX_NAME);
  rpc_status st = ct_holiday_insert(ctx, day, h->name);
  if (!rpc_ok(st)) return st;
  Metro__Control__V1__Holiday *resp = RPC_NEW(ctx, Metro__Control__V1__Holiday, metro__control__v1__holiday__init);
  resp->date = ct_format_day(ctx->arena, day);
  resp->name = h->name;
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status delete_holiday(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Control__V1__DeleteHolidayRequest *r = (const void *)msg;
  long day;
  if (!r->date || !ct_parse_day(r->date, &day))
    return rpc_invalid(ctx->arena, "date", "INVALID_DATE", "date must be YYYY-MM-DD");
  bool deleted = false;
  rpc_status st = ct_holiday_delete(ctx, day, &deleted);
  if (!rpc_ok(st)) return st;
  if (!deleted) return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "HOLIDAY_NOT_FOUND", "%s is no holiday", r->date);
  *out = empty(ctx);
  return RPC_OK;
}

static const rpc_method_impl methods[] = {
    {"GenerateSchedules", generate_schedules, 600000},
    {"GetLineForecast", get_line_forecast, 0},
    {"ListHolidays", list_holidays, 0},
    {"CreateHoliday", create_holiday, 0},
    {"DeleteHoliday", delete_holiday, 0},
};

const rpc_service_impl control_service_impl = {
    .descriptor = &metro__control__v1__control_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
