/* Trip records between the API and the store: the checks a trip must pass against its
 * line (stops in the line's order for its direction, times that never run backwards,
 * first and last stop shapes) and the conversion both ways. */
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "svc/transport/transport.h"

static const char *at(rpc_ctx *ctx, const char *prefix, const char *name) {
  return arena_printf(ctx->arena, "%s.%s", prefix, name);
}

static int line_position(const Metro__Transport__V1__Line *line, const char *station_id) {
  for (size_t i = 0; i < line->n_stations; i++)
    if (strcmp(line->stations[i]->station_id, station_id) == 0) return (int)i;
  return -1;
}

/* A clock field: required (must parse), forbidden (must be empty) or either. */
static rpc_status clock_field(rpc_ctx *ctx, const char *f, const char *value, bool required, bool forbidden,
                              int *out) {
  bool empty = !value || !*value;
  *out = -1;
  if (empty && required) return rpc_invalid(ctx->arena, f, "FIELD_REQUIRED", "%s is required", f);
  if (!empty && forbidden) return rpc_invalid(ctx->arena, f, "INVALID_TIME", "%s must be empty here", f);
  if (empty) return RPC_OK;
  if ((*out = tr_parse_clock(value)) < 0)
    return rpc_invalid(ctx->arena, f, "INVALID_TIME", "%s must be HH:MM:SS (hours up to 47)", f);
  return RPC_OK;
}

rpc_status tr_trip_from_proto(rpc_ctx *ctx, const char *prefix, const Metro__Transport__V1__Line *line,
                              const char *date, const Metro__Transport__V1__Trip *in, tr_trip *out) {
  memset(out, 0, sizeof *out);
  out->route_id = line->route_id;
  out->service_date = date;
  if (in->trip_id && *in->trip_id) {
    if (!crypto_uuid_valid(in->trip_id))
      return rpc_invalid(ctx->arena, at(ctx, prefix, "tripId"), "INVALID_ID", "%s must be a UUID v4",
                         at(ctx, prefix, "tripId"));
    out->trip_id = in->trip_id;
  } else {
    char *id = arena_alloc(ctx->arena, CRYPTO_UUID_LEN + 1);
    crypto_uuid_v4(id);
    out->trip_id = id;
  }
  if (in->route_id && *in->route_id && strcmp(in->route_id, line->route_id) != 0)
    return rpc_invalid(ctx->arena, at(ctx, prefix, "routeId"), "ROUTE_MISMATCH", "%s must be %s or empty",
                       at(ctx, prefix, "routeId"), line->route_id);
  if (in->service_date && *in->service_date && strcmp(in->service_date, date) != 0)
    return rpc_invalid(ctx->arena, at(ctx, prefix, "serviceDate"), "DATE_MISMATCH", "%s must be %s or empty",
                       at(ctx, prefix, "serviceDate"), date);
  if (!in->direction || (strcmp(in->direction, "outbound") != 0 && strcmp(in->direction, "inbound") != 0))
    return rpc_invalid(ctx->arena, at(ctx, prefix, "direction"), "INVALID_DIRECTION",
                       "%s must be outbound or inbound", at(ctx, prefix, "direction"));
  out->inbound = strcmp(in->direction, "inbound") == 0;
  if (in->train_id && *in->train_id) {
    if (!crypto_uuid_valid(in->train_id))
      return rpc_invalid(ctx->arena, at(ctx, prefix, "trainId"), "INVALID_ID", "%s must be a UUID v4",
                         at(ctx, prefix, "trainId"));
    out->train_id = in->train_id;
  }
  size_t n = in->n_stops;
  if (n < 2 || n > line->n_stations)
    return rpc_invalid(ctx->arena, at(ctx, prefix, "stops"), "INVALID_STOPS",
                       "%s must hold 2 to %zu stops of the line", at(ctx, prefix, "stops"), line->n_stations);
  out->stops = arena_alloc(ctx->arena, sizeof(tr_stop) * n);
  out->n_stops = (int)n;
  int last_pos = -1, last_time = -1;
  for (size_t k = 0; k < n; k++) {
    const Metro__Transport__V1__Stop *s = in->stops[k];
    const char *sp = arena_printf(ctx->arena, "%s.stops[%zu]", prefix, k);
    int pos = s->station_id ? line_position(line, s->station_id) : -1;
    if (pos < 0)
      return rpc_invalid(ctx->arena, at(ctx, sp, "stationId"), "STATION_NOT_ON_LINE", "%s is not a station of line %s",
                         at(ctx, sp, "stationId"), line->route_id);
    int ordered = out->inbound ? (int)line->n_stations - 1 - pos : pos;
    if (ordered <= last_pos)
      return rpc_invalid(ctx->arena, at(ctx, sp, "stationId"), "STOPS_OUT_OF_ORDER",
                         "%s breaks the line's order for an %s trip", at(ctx, sp, "stationId"), in->direction);
    last_pos = ordered;
    if (s->sequence != 0 && s->sequence != (int32_t)k + 1)
      return rpc_invalid(ctx->arena, at(ctx, sp, "sequence"), "INVALID_SEQUENCE", "%s must be %zu (or 0)",
                         at(ctx, sp, "sequence"), k + 1);
    int arr, dep;
    rpc_status st = clock_field(ctx, at(ctx, sp, "arrival"), s->arrival, k > 0, k == 0, &arr);
    if (rpc_ok(st)) st = clock_field(ctx, at(ctx, sp, "departure"), s->departure, k + 1 < n, k + 1 == n, &dep);
    if (!rpc_ok(st)) return st;
    if ((arr >= 0 && arr < last_time) || (dep >= 0 && arr >= 0 && dep < arr))
      return rpc_invalid(ctx->arena, at(ctx, sp, "arrival"), "TIMES_NOT_INCREASING", "times must not run backwards at %s",
                         sp);
    last_time = dep >= 0 ? dep : arr;
    out->stops[k] = (tr_stop){s->station_id, arr, dep};
  }
  out->departure = out->stops[0].departure;
  out->arrival = out->stops[n - 1].arrival;
  int given;
  if (in->departure && *in->departure && ((given = tr_parse_clock(in->departure)) != out->departure))
    return rpc_invalid(ctx->arena, at(ctx, prefix, "departure"), "TIME_MISMATCH",
                       "%s must equal the first stop's departure (or be empty)", at(ctx, prefix, "departure"));
  if (in->arrival && *in->arrival && ((given = tr_parse_clock(in->arrival)) != out->arrival))
    return rpc_invalid(ctx->arena, at(ctx, prefix, "arrival"), "TIME_MISMATCH",
                       "%s must equal the last stop's arrival (or be empty)", at(ctx, prefix, "arrival"));
  return RPC_OK;
}

Metro__Transport__V1__Trip *tr_trip_to_proto(rpc_ctx *ctx, const tr_trip *t) {
  Metro__Transport__V1__Trip *p = RPC_NEW(ctx, Metro__Transport__V1__Trip, metro__transport__v1__trip__init);
  p->trip_id = (char *)t->trip_id;
  p->route_id = (char *)t->route_id;
  p->service_date = (char *)t->service_date;
  p->direction = t->inbound ? "inbound" : "outbound";
  p->train_id = t->train_id ? (char *)t->train_id : "";
  p->departure = tr_format_clock(ctx->arena, t->departure);
  p->arrival = tr_format_clock(ctx->arena, t->arrival);
  p->n_stops = (size_t)t->n_stops;
  p->stops = arena_alloc(ctx->arena, sizeof(*p->stops) * (size_t)(t->n_stops + 1));
  for (int k = 0; k < t->n_stops; k++) {
    Metro__Transport__V1__Stop *s = RPC_NEW(ctx, Metro__Transport__V1__Stop, metro__transport__v1__stop__init);
    s->station_id = (char *)t->stops[k].station_id;
    s->sequence = k + 1;
    s->arrival = tr_format_clock(ctx->arena, t->stops[k].arrival);
    s->departure = tr_format_clock(ctx->arena, t->stops[k].departure);
    p->stops[k] = s;
  }
  return p;
}
