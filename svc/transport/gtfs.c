/* GTFS static feed of the network (gtfs.org/schedule/reference): export of agency, stops,
 * routes, trips, stop_times, calendar and transfers (plus metro_route_stations.txt and
 * metro_* columns for what GTFS cannot say) as a zip through libzip, and import of such
 * a feed. Export -> import -> export gives the same files. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pg.h"
#include "svc/transport/gtfs_csv.h"
#include "svc/transport/strbuf.h"
#include "svc/transport/transport.h"

#define GTFS_MAX_ENTRIES 64
#define GTFS_MAX_FILE_BYTES (96u << 20) /* uncompressed, per file */
#define GTFS_MTIME 946684800            /* 2000-01-01: fixed, so equal feeds give equal zips */
#define AGENCY_ID "metro-hcmc"

/* ---- export ---- */

typedef struct feed_file {
  const char *name;
  strbuf body;
} feed_file;

static const char *station_name(Metro__Transport__V1__Station **stations, int n, const char *id) {
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(stations[mid]->station_id, id);
    if (c == 0) return stations[mid]->name;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return "";
}

/* "2026-11-24" -> "D20261124" and "20261124". */
static const char *service_id(rpc_ctx *ctx, const char *date) {
  return arena_printf(ctx->arena, "D%.4s%.2s%.2s", date, date + 5, date + 8);
}

static void write_stops(feed_file *f, Metro__Transport__V1__Station **stations, int n) {
  sb_puts(&f->body, "stop_id,stop_name,stop_lat,stop_lon,location_type,metro_open_time,metro_close_time,"
                    "metro_is_active\r\n");
  for (int i = 0; i < n; i++) {
    const Metro__Transport__V1__Station *s = stations[i];
    csv_put(&f->body, s->station_id);
    sb_putc(&f->body, ',');
    csv_put(&f->body, s->name);
    sb_printf(&f->body, ",%.6f,%.6f,0,%s,%s,%d\r\n", s->location ? s->location->latitude : 0,
              s->location ? s->location->longitude : 0, s->open_time, s->close_time, s->is_active ? 1 : 0);
  }
}

static void write_routes(feed_file *routes, feed_file *route_stations, Metro__Transport__V1__Line **lines, int n) {
  sb_puts(&routes->body, "route_id,agency_id,route_short_name,route_long_name,route_type,route_sort_order,"
                         "metro_length_km,metro_duration_min,metro_status,metro_is_active,metro_base_price\r\n");
  sb_puts(&route_stations->body, "route_id,stop_id,stop_sequence\r\n");
  for (int i = 0; i < n; i++) {
    const Metro__Transport__V1__Line *l = lines[i];
    sb_printf(&routes->body, "%s," AGENCY_ID ",", l->route_id);
    csv_put(&routes->body, l->code);
    sb_putc(&routes->body, ',');
    csv_put(&routes->body, l->name);
    sb_printf(&routes->body, ",1,%d,%.10g,%d,%s,%d,%lld\r\n", l->position, l->length_km, l->duration_min, l->status,
              l->is_active ? 1 : 0, (long long)l->base_price);
    for (size_t k = 0; k < l->n_stations; k++)
      sb_printf(&route_stations->body, "%s,%s,%d\r\n", l->route_id, l->stations[k]->station_id,
                l->stations[k]->sequence);
  }
}

/* Every ordered pair of lines meeting at a station is a recommended transfer. */
static void write_transfers(feed_file *f, Metro__Transport__V1__Station **stations, int n) {
  sb_puts(&f->body, "from_stop_id,to_stop_id,from_route_id,to_route_id,transfer_type\r\n");
  for (int i = 0; i < n; i++) {
    const Metro__Transport__V1__Station *s = stations[i];
    for (size_t a = 0; a < s->n_route_ids; a++)
      for (size_t b = 0; b < s->n_route_ids; b++)
        if (a != b)
          sb_printf(&f->body, "%s,%s,%s,%s,0\r\n", s->station_id, s->station_id, s->route_ids[a], s->route_ids[b]);
  }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void write_timetable(rpc_ctx *ctx, feed_file *trips_f, feed_file *times_f, feed_file *calendar_f,
                            const tr_trip *trips, int n, Metro__Transport__V1__Station **stations, int n_stations) {
  sb_puts(&trips_f->body, "route_id,service_id,trip_id,trip_headsign,direction_id,block_id\r\n");
  sb_puts(&times_f->body, "trip_id,arrival_time,departure_time,stop_id,stop_sequence\r\n");
  sb_puts(&calendar_f->body, "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,"
                             "end_date\r\n");
  const char **dates = arena_alloc(ctx->arena, sizeof(char *) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    const tr_trip *t = &trips[i];
    dates[i] = t->service_date;
    const char *last = t->n_stops > 0 ? t->stops[t->n_stops - 1].station_id : "";
    sb_printf(&trips_f->body, "%s,%s,%s,", t->route_id, service_id(ctx, t->service_date), t->trip_id);
    csv_put(&trips_f->body, station_name(stations, n_stations, last));
    sb_printf(&trips_f->body, ",%d,%s\r\n", t->inbound ? 1 : 0, t->train_id ? t->train_id : "");
    for (int k = 0; k < t->n_stops; k++) {
      const tr_stop *s = &t->stops[k];
      int arr = s->arrival >= 0 ? s->arrival : s->departure, dep = s->departure >= 0 ? s->departure : s->arrival;
      sb_printf(&times_f->body, "%s,%s,%s,%s,%d\r\n", t->trip_id, tr_format_clock(ctx->arena, arr),
                tr_format_clock(ctx->arena, dep), s->station_id, k + 1);
    }
  }
  qsort(dates, (size_t)n, sizeof(char *), cmp_str);
  for (int i = 0; i < n; i++) {
    if (i > 0 && strcmp(dates[i], dates[i - 1]) == 0) continue;
    long day;
    tr_parse_day(dates[i], &day);
    int weekday = (int)(((day % 7) + 7 + 3) % 7); /* 0 = Monday */
    sb_printf(&calendar_f->body, "%s", service_id(ctx, dates[i]));
    for (int d = 0; d < 7; d++) sb_printf(&calendar_f->body, ",%d", d == weekday);
    sb_printf(&calendar_f->body, ",%.4s%.2s%.2s,%.4s%.2s%.2s\r\n", dates[i], dates[i] + 5, dates[i] + 8, dates[i],
              dates[i] + 5, dates[i] + 8);
  }
}

static rpc_status zip_files(rpc_ctx *ctx, feed_file *files, int n, uint8_t **out, size_t *len) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
  zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
  if (!za) {
    if (src) zip_source_free(src);
    zip_error_fini(&ze);
    return rpc_internal("gtfs: cannot create a zip");
  }
  zip_source_keep(src);
  bool ok = true;
  for (int i = 0; i < n && ok; i++) {
    zip_source_t *s = zip_source_buffer(za, files[i].body.data, files[i].body.len, 0);
    zip_int64_t idx = s ? zip_file_add(za, files[i].name, s, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
      if (s) zip_source_free(s);
      ok = false;
      break;
    }
    ok = zip_file_set_mtime(za, (zip_uint64_t)idx, GTFS_MTIME, 0) == 0 &&
         zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 6) == 0;
  }
  if (!ok || zip_close(za) != 0) {
    if (!ok || za) zip_discard(za);
    zip_source_free(src);
    zip_error_fini(&ze);
    return rpc_internal("gtfs: cannot write the zip");
  }
  zip_stat_t st;
  bool read_ok = zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0;
  if (read_ok) {
    *len = (size_t)st.size;
    *out = arena_alloc(ctx->arena, *len + 1);
    read_ok = zip_source_read(src, *out, st.size) == (zip_int64_t)st.size;
    zip_source_close(src);
  }
  zip_source_free(src);
  zip_error_fini(&ze);
  return read_ok ? RPC_OK : rpc_internal("gtfs: cannot read the zip back");
}

rpc_status tr_gtfs_export(rpc_ctx *ctx, long first_day, int days, uint8_t **zip, size_t *len, int *n_trips) {
  Metro__Transport__V1__Station **stations;
  Metro__Transport__V1__Line **lines;
  tr_trip *trips;
  int n_stations, n_lines, n;
  rpc_status st = tr_station_list(ctx, 0, 1000000, &stations, &n_stations);
  if (rpc_ok(st)) st = tr_line_list(ctx, 0, 1000000, false, &lines, &n_lines);
  if (rpc_ok(st)) st = tr_trips_all(ctx, first_day, days, &trips, &n);
  if (!rpc_ok(st)) return st;
  feed_file files[] = {{"agency.txt", {0}},   {"stops.txt", {0}},    {"routes.txt", {0}},
                       {"trips.txt", {0}},    {"stop_times.txt", {0}}, {"calendar.txt", {0}},
                       {"transfers.txt", {0}}, {"metro_route_stations.txt", {0}}};
  int n_files = (int)(sizeof files / sizeof *files);
  for (int i = 0; i < n_files; i++) sb_init(&files[i].body, ctx->arena, i == 4 ? (size_t)n * 800 + 256 : 4096);
  sb_puts(&files[0].body, "agency_id,agency_name,agency_url,agency_timezone,agency_lang\r\n" AGENCY_ID
                          ",Metro HCMC,https://metro.hcmc.vn,Asia/Ho_Chi_Minh,vi\r\n");
  write_stops(&files[1], stations, n_stations);
  write_routes(&files[2], &files[7], lines, n_lines);
  write_timetable(ctx, &files[3], &files[4], &files[5], trips, n, stations, n_stations);
  write_transfers(&files[6], stations, n_stations);
  *n_trips = n;
  return zip_files(ctx, files, n_files, zip, len);
}

/* ---- import ---- */

typedef struct feed {
  zip_t *za;
  rpc_ctx *ctx;
} feed;

static rpc_status bad_feed(rpc_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static rpc_status bad_feed(rpc_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = arena_vprintf(ctx->arena, fmt, ap);
  va_end(ap);
  return rpc_invalid(ctx->arena, "zip", "INVALID_GTFS", "%s", msg);
}

/* Reads and parses one file; *present = false (and OK) when the feed lacks it and it is optional. */
static rpc_status read_table(feed *f, const char *name, bool required, csv_table *out, bool *present) {
  rpc_ctx *ctx = f->ctx;
  *present = false;
  zip_int64_t idx = zip_name_locate(f->za, name, 0);
  if (idx < 0) return required ? bad_feed(ctx, "the feed has no %s", name) : RPC_OK;
  zip_stat_t st;
  if (zip_stat_index(f->za, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    return bad_feed(ctx, "%s: unreadable entry", name);
  if (st.size > GTFS_MAX_FILE_BYTES) return bad_feed(ctx, "%s is larger than the limit", name);
  zip_file_t *zf = zip_fopen_index(f->za, (zip_uint64_t)idx, 0);
  if (!zf) return bad_feed(ctx, "%s: cannot open (encrypted or unsupported compression?)", name);
  char *data = arena_alloc(ctx->arena, (size_t)st.size + 1);
  zip_int64_t got = st.size > 0 ? zip_fread(zf, data, st.size) : 0;
  char extra;
  bool more = got == (zip_int64_t)st.size && zip_fread(zf, &extra, 1) > 0;
  zip_fclose(zf);
  if (got != (zip_int64_t)st.size || more) return bad_feed(ctx, "%s: corrupt entry", name);
  char err[160];
  if (!csv_parse(ctx->arena, data, (size_t)st.size, out, err, sizeof err))
    return bad_feed(ctx, "%s: %s", name, arena_strdup(ctx->arena, err));
  *present = true;
  return RPC_OK;
}

static rpc_status need_columns(rpc_ctx *ctx, const char *file, const csv_table *t, const char *const *names) {
  for (; *names; names++)
    if (csv_column(t, *names) < 0) return bad_feed(ctx, "%s: missing column %s", file, *names);
  return RPC_OK;
}

static bool parse_double(const char *s, double *out) {
  char *end;
  if (!*s) return false;
  *out = strtod(s, &end);
  return *end == '\0';
}

static bool parse_int(const char *s, long min, long max, long *out) {
  char *end;
  if (!*s) return false;
  *out = strtol(s, &end, 10);
  return *end == '\0' && *out >= min && *out <= max;
}

static const char *or_default(const char *v, const char *def) { return *v ? v : def; }

static rpc_status import_stops(rpc_ctx *ctx, const csv_table *t, int *count) {
  static const char *const cols[] = {"stop_id", "stop_name", "stop_lat", "stop_lon", NULL};
  rpc_status st = need_columns(ctx, "stops.txt", t, cols);
  if (!rpc_ok(st)) return st;
  int c_id = csv_column(t, "stop_id"), c_name = csv_column(t, "stop_name"), c_lat = csv_column(t, "stop_lat"),
      c_lon = csv_column(t, "stop_lon"), c_open = csv_column(t, "metro_open_time"),
      c_close = csv_column(t, "metro_close_time"), c_active = csv_column(t, "metro_is_active"),
      c_type = csv_column(t, "location_type");
  for (int i = 0; i < t->n_rows; i++) {
    const char *type = csv_get(t, i, c_type);
    if (*type && strcmp(type, "0") != 0) continue; /* stations only, not entrances or platforms */
    const char *prefix = arena_printf(ctx->arena, "stops.txt[%d]", i + 1);
    Google__Type__LatLng *loc = RPC_NEW(ctx, Google__Type__LatLng, google__type__lat_lng__init);
    if (!parse_double(csv_get(t, i, c_lat), &loc->latitude) || !parse_double(csv_get(t, i, c_lon), &loc->longitude))
      return rpc_invalid(ctx->arena, arena_printf(ctx->arena, "%s.location", prefix), "INVALID_LOCATION",
                         "%s: stop_lat and stop_lon must be numbers", prefix);
    Metro__Transport__V1__Station s = METRO__TRANSPORT__V1__STATION__INIT;
    s.station_id = (char *)csv_get(t, i, c_id);
    s.name = (char *)csv_get(t, i, c_name);
    s.location = loc;
    s.open_time = (char *)or_default(csv_get(t, i, c_open), "05:00");
    s.close_time = (char *)or_default(csv_get(t, i, c_close), "23:00");
    s.is_active = strcmp(or_default(csv_get(t, i, c_active), "1"), "0") != 0;
    if (!rpc_ok(st = tr_validate_station(ctx, prefix, &s))) return st;
    Metro__Transport__V1__Station *cur = NULL;
    st = tr_station_get(ctx, s.station_id, &cur);
    if (st.code == GRPC_STATUS_NOT_FOUND) {
      st = tr_station_insert(ctx, &s);
    } else if (rpc_ok(st)) {
      st = tr_station_update(ctx, &s);
      if (rpc_ok(st)) st = tr_emit_station_status(ctx, s.station_id, s.name, cur->is_active, s.is_active, "gtfs import");
    }
    if (!rpc_ok(st)) return st;
    (*count)++;
  }
  return RPC_OK;
}

static rpc_status import_routes(rpc_ctx *ctx, const csv_table *t, int *count) {
  static const char *const cols[] = {"route_id", "route_short_name", "route_long_name", NULL};
  rpc_status st = need_columns(ctx, "routes.txt", t, cols);
  if (!rpc_ok(st)) return st;
  int c_id = csv_column(t, "route_id"), c_code = csv_column(t, "route_short_name"),
      c_name = csv_column(t, "route_long_name"), c_len = csv_column(t, "metro_length_km"),
      c_dur = csv_column(t, "metro_duration_min"), c_status = csv_column(t, "metro_status"),
      c_active = csv_column(t, "metro_is_active"), c_price = csv_column(t, "metro_base_price");
  for (int i = 0; i < t->n_rows; i++) {
    const char *prefix = arena_printf(ctx->arena, "routes.txt[%d]", i + 1);
    Metro__Transport__V1__Line l = METRO__TRANSPORT__V1__LINE__INIT;
    long duration = 0, price = 0;
    l.route_id = (char *)csv_get(t, i, c_id);
    l.code = (char *)csv_get(t, i, c_code);
    l.name = (char *)csv_get(t, i, c_name);
    if (!parse_double(or_default(csv_get(t, i, c_len), "1"), &l.length_km)) l.length_km = -1;
    if (!parse_int(or_default(csv_get(t, i, c_dur), "60"), 1, 600, &duration)) duration = -1;
    if (!parse_int(or_default(csv_get(t, i, c_price), "10000"), 0, 10000000, &price)) price = -1;
    l.duration_min = (int)duration;
    l.base_price = price;
    l.status = (char *)or_default(csv_get(t, i, c_status), "planned");
    l.is_active = strcmp(or_default(csv_get(t, i, c_active), "1"), "0") != 0;
    if (!rpc_ok(st = tr_validate_line(ctx, prefix, &l))) return st;
    Metro__Transport__V1__Line *cur;
    st = tr_line_get(ctx, l.route_id, &cur);
    if (st.code == GRPC_STATUS_NOT_FOUND)
      st = tr_line_insert(ctx, &l);
    else if (rpc_ok(st))
      st = tr_line_update(ctx, &l);
    if (!rpc_ok(st)) return st;
    (*count)++;
  }
  return RPC_OK;
}

/* metro_route_stations.txt: each route's stations with stop_sequence 1..n. */
static rpc_status import_route_stations(rpc_ctx *ctx, const csv_table *t) {
  static const char *const cols[] = {"route_id", "stop_id", "stop_sequence", NULL};
  rpc_status st = need_columns(ctx, "metro_route_stations.txt", t, cols);
  if (!rpc_ok(st)) return st;
  int c_route = csv_column(t, "route_id"), c_stop = csv_column(t, "stop_id"), c_seq = csv_column(t, "stop_sequence");
  for (int i = 0; i < t->n_rows;) {
    const char *route = csv_get(t, i, c_route);
    int first = i;
    while (i < t->n_rows && strcmp(csv_get(t, i, c_route), route) == 0) i++;
    int n = i - first;
    if (n > TR_MAX_LINE_STATIONS) return bad_feed(ctx, "metro_route_stations.txt: route %s has too many stations", route);
    char **ids = arena_alloc(ctx->arena, sizeof(char *) * (size_t)n);
    for (int k = 0; k < n; k++) {
      long seq;
      if (!parse_int(csv_get(t, first + k, c_seq), 1, n, &seq) || seq != k + 1 ||
          !tr_valid_slug(csv_get(t, first + k, c_stop), 64))
        return bad_feed(ctx, "metro_route_stations.txt: route %s must list its stations in sequence 1..n", route);
      ids[k] = (char *)csv_get(t, first + k, c_stop);
      for (int j = 0; j < k; j++)
        if (strcmp(ids[j], ids[k]) == 0)
          return bad_feed(ctx, "metro_route_stations.txt: route %s repeats station %s", route, ids[k]);
    }
    Metro__Transport__V1__Line *line;
    if (!rpc_ok(st = tr_line_get(ctx, route, &line)))
      return bad_feed(ctx, "metro_route_stations.txt: unknown route %s", route);
    if (!rpc_ok(st = tr_line_set_stations(ctx, route, ids, n))) return st;
  }
  return RPC_OK;
}

/* calendar.txt rows of one day each: service_id -> YYYY-MM-DD. */
static rpc_status service_dates(rpc_ctx *ctx, const csv_table *cal, const char *service, const char **date) {
  int c_id = csv_column(cal, "service_id"), c_start = csv_column(cal, "start_date"), c_end = csv_column(cal, "end_date");
  for (int i = 0; i < cal->n_rows; i++) {
    if (strcmp(csv_get(cal, i, c_id), service) != 0) continue;
    const char *s = csv_get(cal, i, c_start), *e = csv_get(cal, i, c_end);
    long day;
    if (strlen(s) != 8 || strcmp(s, e) != 0) break;
    const char *iso = arena_printf(ctx->arena, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
    if (!tr_parse_day(iso, &day)) break;
    *date = iso;
    return RPC_OK;
  }
  return bad_feed(ctx, "calendar.txt: service %s must be one day (start_date = end_date)", service);
}

typedef struct time_row {
  int row;
  long seq;
  const char *trip;
} time_row;

static int cmp_time_row(const void *a, const void *b) {
  const time_row *x = a, *y = b;
  int c = strcmp(x->trip, y->trip);
  if (c) return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct line_cache {
  Metro__Transport__V1__Line *lines[256];
  Metro__Transport__V1__Train **trains[256];
  int n_trains[256];
  int n;
} line_cache;

static rpc_status cached_line(rpc_ctx *ctx, line_cache *c, const char *route, int *index) {
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->lines[i]->route_id, route) == 0) return *index = i, RPC_OK;
  if (c->n >= 256) return bad_feed(ctx, "trips.txt: too many routes");
  rpc_status st = tr_line_get(ctx, route, &c->lines[c->n]);
  if (st.code == GRPC_STATUS_NOT_FOUND) return bad_feed(ctx, "trips.txt: unknown route %s", route);
  if (rpc_ok(st)) st = tr_train_list(ctx, 0, 100000, route, NULL, &c->trains[c->n], &c->n_trains[c->n]);
  if (rpc_ok(st)) *index = c->n++;
  return st;
}

/* Groups the stop_times rows by trip (ordered by stop_sequence) and turns each trip into a
 * Trip message checked against its line like BulkUpsertTrips. */
static rpc_status import_trips(rpc_ctx *ctx, const csv_table *trips, const csv_table *times, const csv_table *cal,
                               Metro__Transport__V1__ImportGtfsResponse *resp) {
  static const char *const trip_cols[] = {"route_id", "service_id", "trip_id", "direction_id", NULL};
  static const char *const time_cols[] = {"trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence", NULL};
  static const char *const cal_cols[] = {"service_id", "start_date", "end_date", NULL};
  rpc_status st = need_columns(ctx, "trips.txt", trips, trip_cols);
  if (rpc_ok(st)) st = need_columns(ctx, "stop_times.txt", times, time_cols);
  if (rpc_ok(st)) st = need_columns(ctx, "calendar.txt", cal, cal_cols);
  if (!rpc_ok(st)) return st;
  int t_route = csv_column(trips, "route_id"), t_service = csv_column(trips, "service_id"),
      t_id = csv_column(trips, "trip_id"), t_dir = csv_column(trips, "direction_id"),
      t_block = csv_column(trips, "block_id");
  int s_trip = csv_column(times, "trip_id"), s_arr = csv_column(times, "arrival_time"),
      s_dep = csv_column(times, "departure_time"), s_stop = csv_column(times, "stop_id"),
      s_seq = csv_column(times, "stop_sequence");
  time_row *rows = arena_alloc(ctx->arena, sizeof(time_row) * (size_t)(times->n_rows + 1));
  for (int i = 0; i < times->n_rows; i++) {
    rows[i] = (time_row){i, 0, csv_get(times, i, s_trip)};
    if (!parse_int(csv_get(times, i, s_seq), 0, 1000000, &rows[i].seq))
      return bad_feed(ctx, "stop_times.txt: bad stop_sequence for trip %s", rows[i].trip);
  }
  qsort(rows, (size_t)times->n_rows, sizeof *rows, cmp_time_row);
  line_cache *lc = arena_alloc(ctx->arena, sizeof *lc);
  tr_trip *out = arena_alloc(ctx->arena, sizeof(tr_trip) * (size_t)(trips->n_rows + 1));
  for (int i = 0; i < trips->n_rows; i++) {
    const char *trip_id = csv_get(trips, i, t_id);
    const char *prefix = arena_printf(ctx->arena, "trips.txt[%d]", i + 1);
    int li = 0; /* set by cached_line on success */
    const char *date = NULL;
    if (!rpc_ok(st = cached_line(ctx, lc, csv_get(trips, i, t_route), &li))) return st;
    if (!rpc_ok(st = service_dates(ctx, cal, csv_get(trips, i, t_service), &date))) return st;
    /* Find this trip's stop_times by binary search on the sorted rows. */
    time_row key = {0, -1, trip_id};
    int lo = 0, hi = times->n_rows;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (cmp_time_row(&rows[mid], &key) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    int end = lo;
    while (end < times->n_rows && strcmp(rows[end].trip, trip_id) == 0) end++;
    int n = end - lo;
    Metro__Transport__V1__Trip trip = METRO__TRANSPORT__V1__TRIP__INIT;
    trip.trip_id = (char *)trip_id;
    const char *dir = csv_get(trips, i, t_dir);
    trip.direction = strcmp(dir, "1") == 0 ? "inbound" : strcmp(dir, "0") == 0 ? "outbound" : (char *)dir;
    const char *block = csv_get(trips, i, t_block);
    for (int k = 0; k < lc->n_trains[li]; k++)
      if (strcmp(lc->trains[li][k]->train_id, block) == 0) trip.train_id = (char *)block;
    trip.n_stops = (size_t)n;
    trip.stops = arena_alloc(ctx->arena, sizeof(*trip.stops) * (size_t)(n + 1));
    for (int k = 0; k < n; k++) {
      int row = rows[lo + k].row;
      Metro__Transport__V1__Stop *s = RPC_NEW(ctx, Metro__Transport__V1__Stop, metro__transport__v1__stop__init);
      s->station_id = (char *)csv_get(times, row, s_stop);
      /* GTFS repeats the time at both ends; the model has no arrival at the first stop
       * and no departure at the last. */
      s->arrival = k == 0 ? "" : (char *)csv_get(times, row, s_arr);
      s->departure = k == n - 1 ? "" : (char *)csv_get(times, row, s_dep);
      trip.stops[k] = s;
    }
    if (!rpc_ok(st = tr_trip_from_proto(ctx, prefix, lc->lines[li], date, &trip, &out[i]))) return st;
    resp->stop_times += n;
  }
  /* Replace each (line, service date) the feed holds, like BulkUpsertTrips with replace. */
  PGresult *r;
  for (int i = 0; i < trips->n_rows; i++) {
    bool seen = false;
    for (int k = 0; k < i && !seen; k++)
      seen = strcmp(out[k].route_id, out[i].route_id) == 0 && strcmp(out[k].service_date, out[i].service_date) == 0;
    if (seen) continue;
    const char *params[2] = {out[i].route_id, out[i].service_date};
    st = pg_exec(ctx->arena, &r, "SELECT pg_advisory_xact_lock(hashtext('metro.transport.trips/' || $1 || '/' || $2))",
                 2, params);
    if (rpc_ok(st)) st = tr_trips_delete(ctx, out[i].route_id, out[i].service_date);
    if (!rpc_ok(st)) return st;
  }
  st = tr_trips_insert(ctx, out, trips->n_rows);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS)
    return rpc_invalid(ctx->arena, "zip", "TRIP_EXISTS", "trips.txt: a trip id is already used on a date the feed lacks");
  resp->trips = trips->n_rows;
  return st;
}

rpc_status tr_gtfs_import(rpc_ctx *ctx, const uint8_t *zip, size_t len, Metro__Transport__V1__ImportGtfsResponse *out) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(zip, len, 0, &ze);
  zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
  if (!za) {
    if (src) zip_source_free(src);
    zip_error_fini(&ze);
    return bad_feed(ctx, "not a readable zip archive");
  }
  feed f = {za, ctx};
  rpc_status st = RPC_OK;
  if (zip_get_num_entries(za, 0) > GTFS_MAX_ENTRIES) st = bad_feed(ctx, "too many files in the feed");
  csv_table stops, routes, route_stations, trips, times, calendar;
  bool have_stops, have_routes, have_route_stations, have_trips, have_times, have_calendar;
  if (rpc_ok(st)) st = read_table(&f, "stops.txt", true, &stops, &have_stops);
  if (rpc_ok(st)) st = read_table(&f, "routes.txt", true, &routes, &have_routes);
  if (rpc_ok(st)) st = read_table(&f, "metro_route_stations.txt", false, &route_stations, &have_route_stations);
  if (rpc_ok(st)) st = read_table(&f, "trips.txt", true, &trips, &have_trips);
  if (rpc_ok(st)) st = read_table(&f, "stop_times.txt", true, &times, &have_times);
  if (rpc_ok(st)) st = read_table(&f, "calendar.txt", trips.n_rows > 0, &calendar, &have_calendar);
  zip_discard(za); /* the tables live in the arena */
  zip_error_fini(&ze);
  if (rpc_ok(st)) st = import_stops(ctx, &stops, &out->stations);
  if (rpc_ok(st)) st = import_routes(ctx, &routes, &out->lines);
  if (rpc_ok(st) && have_route_stations) st = import_route_stations(ctx, &route_stations);
  if (rpc_ok(st) && trips.n_rows > 0) st = import_trips(ctx, &trips, &times, &calendar, out);
  if (rpc_ok(st))
    log_info("gtfs import: %d stations, %d lines, %d trips, %d stop times", out->stations, out->lines, out->trips,
             out->stop_times);
  return st;
}
