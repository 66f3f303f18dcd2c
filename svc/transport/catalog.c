/* The catalog tables of the transport service: parameterized SQL for stations, lines and
 * their ordered stations, and trains, turning rows into API messages. Writes run inside
 * the caller's transaction, serialised by a transaction-scoped advisory lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/pg.h"
#include "svc/transport/strbuf.h"
#include "svc/transport/transport.h"

#define STATION_COLUMNS                                                                                 \
  "s.station_id, s.name, s.lat, s.lon, s.open_time, s.close_time, s.is_active, "                       \
  "coalesce((SELECT string_agg(ls.route_id, ',' ORDER BY l.position) FROM line_stations ls "            \
  "JOIN lines l USING (route_id) WHERE ls.station_id = s.station_id), '')"

#define LINE_COLUMNS \
  "route_id, code, name, length_km, duration_min, status, is_active, base_price, position, color, text_color"

#define TRAIN_COLUMNS "train_id, name, type, capacity, route_id, status"

static bool is_true(const char *v) { return v && strcmp(v, "t") == 0; }

static char *dup_value(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return arena_strdup(ctx->arena, v ? v : "");
}

/* "a,b,c" -> repeated string. */
static void split_ids(rpc_ctx *ctx, const char *list, char ***out, size_t *n) {
  *n = 0;
  if (!list || !*list) return;
  size_t count = 1;
  for (const char *p = list; *p; p++) count += *p == ',';
  *out = arena_alloc(ctx->arena, sizeof(char *) * count);
  for (const char *p = list;;) {
    size_t len = strcspn(p, ",");
    (*out)[(*n)++] = arena_strndup(ctx->arena, p, len);
    if (!p[len]) break;
    p += len + 1;
  }
}

/* "{a,b}" from strings that need no quoting (validated slugs and UUIDs). */
static const char *array_literal(rpc_ctx *ctx, char *const *items, int n) {
  strbuf b;
  sb_init(&b, ctx->arena, 64);
  sb_putc(&b, '{');
  for (int i = 0; i < n; i++) {
    if (i) sb_putc(&b, ',');
    sb_puts(&b, items[i]);
  }
  sb_putc(&b, '}');
  return b.data;
}

static rpc_status not_found(rpc_ctx *ctx, const char *what, const char *reason, const char *id) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, reason, "%s %s does not exist", what, id);
}

rpc_status tr_network_touch(rpc_ctx *ctx) {
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT pg_advisory_xact_lock(hashtext('metro.transport.catalog'))", 0, NULL);
  if (!rpc_ok(st)) return st;
  return pg_exec(ctx->arena, &r,
                 "UPDATE network_state SET version = version + 1, changed_at = clock_timestamp() WHERE id = 1", 0,
                 NULL);
}

rpc_status tr_network_version(rpc_ctx *ctx, int64_t *version) {
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT version FROM network_state WHERE id = 1", 0, NULL);
  if (!rpc_ok(st)) return st;
  *version = PQntuples(r) == 1 ? strtoll(pg_value(r, 0, 0), NULL, 10) : 0;
  return RPC_OK;
}

/* ---- stations ---- */

static Metro__Transport__V1__Station *row_to_station(rpc_ctx *ctx, const PGresult *r, int row) {
  Metro__Transport__V1__Station *s = RPC_NEW(ctx, Metro__Transport__V1__Station, metro__transport__v1__station__init);
  s->station_id = dup_value(ctx, r, row, 0);
  s->name = dup_value(ctx, r, row, 1);
  s->location = RPC_NEW(ctx, Google__Type__LatLng, google__type__lat_lng__init);
  s->location->latitude = strtod(pg_value(r, row, 2), NULL);
  s->location->longitude = strtod(pg_value(r, row, 3), NULL);
  s->open_time = dup_value(ctx, r, row, 4);
  s->close_time = dup_value(ctx, r, row, 5);
  s->is_active = is_true(pg_value(r, row, 6));
  split_ids(ctx, pg_value(r, row, 7), &s->route_ids, &s->n_route_ids);
  return s;
}

rpc_status tr_station_get(rpc_ctx *ctx, const char *station_id, Metro__Transport__V1__Station **out) {
  const char *params[1] = {station_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT " STATION_COLUMNS " FROM stations s WHERE s.station_id = $1", 1,
                          params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) != 1) return not_found(ctx, "station", "STATION_NOT_FOUND", station_id);
  *out = row_to_station(ctx, r, 0);
  return RPC_OK;
}

rpc_status tr_station_list(rpc_ctx *ctx, int offset, int limit, Metro__Transport__V1__Station ***out, int *n) {
  char off[16], lim[16];
  snprintf(off, sizeof off, "%d", offset);
  snprintf(lim, sizeof lim, "%d", limit);
  const char *params[2] = {off, lim};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " STATION_COLUMNS " FROM stations s ORDER BY s.station_id OFFSET $1 LIMIT $2", 2,
                          params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *out = arena_alloc(ctx->arena, sizeof(**out) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) (*out)[i] = row_to_station(ctx, r, i);
  return RPC_OK;
}

static void station_params(rpc_ctx *ctx, const Metro__Transport__V1__Station *s, const char *params[7]) {
  params[0] = s->station_id;
  params[1] = s->name;
  params[2] = arena_printf(ctx->arena, "%.17g", s->location->latitude);
  params[3] = arena_printf(ctx->arena, "%.17g", s->location->longitude);
  params[4] = s->open_time;
  params[5] = s->close_time;
  params[6] = s->is_active ? "t" : "f";
}

rpc_status tr_station_insert(rpc_ctx *ctx, const Metro__Transport__V1__Station *s) {
  const char *params[7];
  station_params(ctx, s, params);
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO stations (station_id, name, lat, lon, open_time, close_time, is_active) "
                          "VALUES ($1, $2, $3::float8, $4::float8, $5, $6, $7::boolean)",
                          7, params);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS)
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "STATION_EXISTS", "station %s already exists",
                     s->station_id);
  return st;
}

rpc_status tr_station_update(rpc_ctx *ctx, const Metro__Transport__V1__Station *s) {
  const char *params[7];
  station_params(ctx, s, params);
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "UPDATE stations SET name = $2, lat = $3::float8, lon = $4::float8, open_time = $5, "
                          "close_time = $6, is_active = $7::boolean, updated_at = now() WHERE station_id = $1",
                          7, params);
  if (rpc_ok(st) && strcmp(PQcmdTuples(r), "1") != 0) return not_found(ctx, "station", "STATION_NOT_FOUND", s->station_id);
  return st;
}

rpc_status tr_station_delete(rpc_ctx *ctx, const char *station_id) {
  const char *params[1] = {station_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT EXISTS (SELECT 1 FROM line_stations WHERE station_id = $1), "
                          "EXISTS (SELECT 1 FROM stops WHERE station_id = $1)",
                          1, params);
  if (!rpc_ok(st)) return st;
  if (is_true(pg_value(r, 0, 0)) || is_true(pg_value(r, 0, 1)))
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "STATION_IN_USE",
                     "station %s is on a line or in a timetable; remove it from them first", station_id);
  st = pg_exec(ctx->arena, &r, "DELETE FROM stations WHERE station_id = $1", 1, params);
  if (rpc_ok(st) && strcmp(PQcmdTuples(r), "1") != 0) return not_found(ctx, "station", "STATION_NOT_FOUND", station_id);
  return st;
}

/* ---- lines ---- */

static rpc_status load_line_stations(rpc_ctx *ctx, Metro__Transport__V1__Line *l) {
  const char *params[1] = {l->route_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT ls.station_id, ls.sequence, s.name FROM line_stations ls "
                          "JOIN stations s USING (station_id) WHERE ls.route_id = $1 ORDER BY ls.sequence",
                          1, params);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r);
  l->n_stations = (size_t)n;
  l->stations = arena_alloc(ctx->arena, sizeof(*l->stations) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    Metro__Transport__V1__LineStation *ls =
        RPC_NEW(ctx, Metro__Transport__V1__LineStation, metro__transport__v1__line_station__init);
    ls->station_id = dup_value(ctx, r, i, 0);
    ls->sequence = atoi(pg_value(r, i, 1));
    ls->name = dup_value(ctx, r, i, 2);
    l->stations[i] = ls;
  }
  return RPC_OK;
}

static Metro__Transport__V1__Line *row_to_line(rpc_ctx *ctx, const PGresult *r, int row) {
  Metro__Transport__V1__Line *l = RPC_NEW(ctx, Metro__Transport__V1__Line, metro__transport__v1__line__init);
  l->route_id = dup_value(ctx, r, row, 0);
  l->code = dup_value(ctx, r, row, 1);
  l->name = dup_value(ctx, r, row, 2);
  l->length_km = strtod(pg_value(r, row, 3), NULL);
  l->duration_min = atoi(pg_value(r, row, 4));
  l->status = dup_value(ctx, r, row, 5);
  l->is_active = is_true(pg_value(r, row, 6));
  l->base_price = strtoll(pg_value(r, row, 7), NULL, 10);
  l->position = atoi(pg_value(r, row, 8));
  l->color = dup_value(ctx, r, row, 9);
  l->text_color = dup_value(ctx, r, row, 10);
  return l;
}

rpc_status tr_line_get(rpc_ctx *ctx, const char *route_id, Metro__Transport__V1__Line **out) {
  const char *params[1] = {route_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT " LINE_COLUMNS " FROM lines WHERE route_id = $1", 1, params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) != 1) return not_found(ctx, "line", "LINE_NOT_FOUND", route_id);
  *out = row_to_line(ctx, r, 0);
  return load_line_stations(ctx, *out);
}

rpc_status tr_line_list(rpc_ctx *ctx, int offset, int limit, bool active_only, Metro__Transport__V1__Line ***out,
                        int *n) {
  char off[16], lim[16];
  snprintf(off, sizeof off, "%d", offset);
  snprintf(lim, sizeof lim, "%d", limit);
  const char *params[3] = {off, lim, active_only ? "t" : "f"};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " LINE_COLUMNS " FROM lines WHERE is_active OR NOT $3::boolean "
                          "ORDER BY position OFFSET $1 LIMIT $2",
                          3, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *out = arena_alloc(ctx->arena, sizeof(**out) * (size_t)(*n + 1));
  for (int i = 0; i < *n && rpc_ok(st); i++) {
    (*out)[i] = row_to_line(ctx, r, i);
    st = load_line_stations(ctx, (*out)[i]);
  }
  return st;
}

static void line_params(rpc_ctx *ctx, const Metro__Transport__V1__Line *l, const char *params[10]) {
  params[0] = l->route_id;
  params[1] = l->code;
  params[2] = l->name;
  params[3] = arena_printf(ctx->arena, "%.17g", l->length_km);
  params[4] = arena_printf(ctx->arena, "%d", l->duration_min);
  params[5] = l->status;
  params[6] = l->is_active ? "t" : "f";
  params[7] = arena_printf(ctx->arena, "%lld", (long long)l->base_price);
  params[8] = l->color ? l->color : "";
  params[9] = l->text_color ? l->text_color : "";
}

static rpc_status line_conflict(rpc_ctx *ctx, rpc_status st, const Metro__Transport__V1__Line *l) {
  if (st.code != GRPC_STATUS_ALREADY_EXISTS) return st;
  if (st.field && strcmp(st.field, "lines_code_key") == 0)
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "LINE_CODE_TAKEN", "another line has the code %s", l->code);
  return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "LINE_EXISTS", "line %s already exists", l->route_id);
}

rpc_status tr_line_insert(rpc_ctx *ctx, const Metro__Transport__V1__Line *l) {
  const char *params[10];
  line_params(ctx, l, params);
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO lines (route_id, code, name, length_km, duration_min, status, is_active, "
                          "base_price, color, text_color, position) VALUES ($1, $2, $3, $4::float8, $5::int, $6, "
                          "$7::boolean, $8::bigint, upper($9), upper($10), "
                          "(SELECT coalesce(max(position), 0) + 1 FROM lines))",
                          10, params);
  return line_conflict(ctx, st, l);
}

rpc_status tr_line_update(rpc_ctx *ctx, const Metro__Transport__V1__Line *l) {
  const char *params[10];
  line_params(ctx, l, params);
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "UPDATE lines SET code = $2, name = $3, length_km = $4::float8, duration_min = $5::int, "
                          "status = $6, is_active = $7::boolean, base_price = $8::bigint, color = upper($9), "
                          "text_color = upper($10), updated_at = now() WHERE route_id = $1",
                          10, params);
  if (rpc_ok(st) && strcmp(PQcmdTuples(r), "1") != 0) return not_found(ctx, "line", "LINE_NOT_FOUND", l->route_id);
  return line_conflict(ctx, st, l);
}

rpc_status tr_line_delete(rpc_ctx *ctx, const char *route_id) {
  const char *params[1] = {route_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT EXISTS (SELECT 1 FROM trains WHERE route_id = $1)", 1, params);
  if (!rpc_ok(st)) return st;
  if (is_true(pg_value(r, 0, 0)))
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "LINE_HAS_TRAINS",
                     "line %s still has trains; move or delete them first", route_id);
  st = pg_exec(ctx->arena, &r, "DELETE FROM lines WHERE route_id = $1", 1, params);
  if (rpc_ok(st) && strcmp(PQcmdTuples(r), "1") != 0) return not_found(ctx, "line", "LINE_NOT_FOUND", route_id);
  return st;
}

rpc_status tr_line_set_stations(rpc_ctx *ctx, const char *route_id, char *const *station_ids, int n) {
  const char *list = array_literal(ctx, station_ids, n);
  const char *params[2] = {route_id, list};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT u.ord FROM unnest($1::text[]) WITH ORDINALITY AS u(sid, ord) "
                          "LEFT JOIN stations s ON s.station_id = u.sid WHERE s.station_id IS NULL ORDER BY u.ord LIMIT 1",
                          1, params + 1);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 1) {
    int i = atoi(pg_value(r, 0, 0)) - 1;
    return rpc_invalid(ctx->arena, arena_printf(ctx->arena, "stationIds[%d]", i), "STATION_NOT_FOUND",
                       "station %s does not exist", station_ids[i]);
  }
  if (!rpc_ok(st = pg_exec(ctx->arena, &r, "DELETE FROM line_stations WHERE route_id = $1", 1, params))) return st;
  return pg_exec(ctx->arena, &r,
                 "INSERT INTO line_stations (route_id, station_id, sequence) "
                 "SELECT $1, u.sid, u.ord FROM unnest($2::text[]) WITH ORDINALITY AS u(sid, ord)",
                 2, params);
}

/* ---- trains ---- */

static Metro__Transport__V1__Train *row_to_train(rpc_ctx *ctx, const PGresult *r, int row) {
  Metro__Transport__V1__Train *t = RPC_NEW(ctx, Metro__Transport__V1__Train, metro__transport__v1__train__init);
  t->train_id = dup_value(ctx, r, row, 0);
  t->name = dup_value(ctx, r, row, 1);
  t->type = dup_value(ctx, r, row, 2);
  t->capacity = atoi(pg_value(r, row, 3));
  t->route_id = dup_value(ctx, r, row, 4);
  t->status = dup_value(ctx, r, row, 5);
  return t;
}

rpc_status tr_train_get(rpc_ctx *ctx, const char *train_id, Metro__Transport__V1__Train **out) {
  if (!crypto_uuid_valid(train_id)) return not_found(ctx, "train", "TRAIN_NOT_FOUND", train_id ? train_id : "");
  const char *params[1] = {train_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT " TRAIN_COLUMNS " FROM trains WHERE train_id = $1::uuid", 1, params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) != 1) return not_found(ctx, "train", "TRAIN_NOT_FOUND", train_id);
  *out = row_to_train(ctx, r, 0);
  return RPC_OK;
}

rpc_status tr_train_list(rpc_ctx *ctx, int offset, int limit, const char *route_id, const char *status,
                         Metro__Transport__V1__Train ***out, int *n) {
  char off[16], lim[16];
  snprintf(off, sizeof off, "%d", offset);
  snprintf(lim, sizeof lim, "%d", limit);
  const char *params[4] = {off, lim, route_id && *route_id ? route_id : NULL, status && *status ? status : NULL};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT t.train_id, t.name, t.type, t.capacity, t.route_id, t.status FROM trains t "
                          "JOIN lines l USING (route_id) WHERE ($3::text IS NULL OR t.route_id = $3) "
                          "AND ($4::text IS NULL OR t.status = $4) ORDER BY l.position, t.name OFFSET $1 LIMIT $2",
                          4, params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *out = arena_alloc(ctx->arena, sizeof(**out) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) (*out)[i] = row_to_train(ctx, r, i);
  return RPC_OK;
}

static void train_params(rpc_ctx *ctx, const Metro__Transport__V1__Train *t, const char *params[6]) {
  params[0] = t->train_id;
  params[1] = t->name;
  params[2] = t->type;
  params[3] = arena_printf(ctx->arena, "%d", t->capacity);
  params[4] = t->route_id;
  params[5] = t->status;
}

static rpc_status train_write(rpc_ctx *ctx, const Metro__Transport__V1__Train *t, const char *sql) {
  Metro__Transport__V1__Line *line;
  rpc_status st = tr_line_get(ctx, t->route_id, &line);
  if (st.code == GRPC_STATUS_NOT_FOUND)
    return rpc_invalid(ctx->arena, "train.routeId", "LINE_NOT_FOUND", "line %s does not exist", t->route_id);
  if (!rpc_ok(st)) return st;
  const char *params[6];
  train_params(ctx, t, params);
  PGresult *r;
  st = pg_exec(ctx->arena, &r, sql, 6, params);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS)
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "TRAIN_NAME_TAKEN", "another train is named %s", t->name);
  if (rpc_ok(st) && strcmp(PQcmdTuples(r), "1") != 0) return not_found(ctx, "train", "TRAIN_NOT_FOUND", t->train_id);
  return st;
}

rpc_status tr_train_insert(rpc_ctx *ctx, const Metro__Transport__V1__Train *t) {
  return train_write(ctx, t,
                     "INSERT INTO trains (train_id, name, type, capacity, route_id, status) "
                     "VALUES ($1::uuid, $2, $3, $4::int, $5, $6)");
}

rpc_status tr_train_update(rpc_ctx *ctx, const Metro__Transport__V1__Train *t) {
  return train_write(ctx, t,
                     "UPDATE trains SET name = $2, type = $3, capacity = $4::int, route_id = $5, status = $6, "
                     "updated_at = now() WHERE train_id = $1::uuid");
}

rpc_status tr_train_delete(rpc_ctx *ctx, const char *train_id) {
  if (!crypto_uuid_valid(train_id)) return not_found(ctx, "train", "TRAIN_NOT_FOUND", train_id ? train_id : "");
  const char *params[1] = {train_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "DELETE FROM trains WHERE train_id = $1::uuid", 1, params);
  if (rpc_ok(st) && strcmp(PQcmdTuples(r), "1") != 0) return not_found(ctx, "train", "TRAIN_NOT_FOUND", train_id);
  return st;
}

rpc_status tr_train_active_ids(rpc_ctx *ctx, const char *route_id, const char ***ids, int *n) {
  const char *params[1] = {route_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT train_id FROM trains WHERE route_id = $1 AND status = 'active' ORDER BY train_id", 1,
                          params);
  if (!rpc_ok(st)) return st;
  *n = PQntuples(r);
  *ids = arena_alloc(ctx->arena, sizeof(char *) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) (*ids)[i] = dup_value(ctx, r, i, 0);
  return RPC_OK;
}
