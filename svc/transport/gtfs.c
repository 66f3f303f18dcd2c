/* GTFS static feeds of the network (gtfs.org/schedule/reference), through libzip. Two forms are
 * exported: the admin's (agency, stops, routes, trips, stop_times, calendar, transfers,
 * feed_info, plus metro_route_stations.txt and metro_* columns for what GTFS cannot say), one
 * service per date with the database's trip ids, which ImportGtfs reads back (export -> import
 * -> export gives the same files); and the consumer feed for transit tools, where trips that run
 * alike on several dates are one trip on a shared service (calendar.txt with calendar_dates.txt
 * exceptions, gtfs_calendar.c) under an id derived from what it is, so ids stay put between
 * exports. Either may leave out the planned lines. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/pb_time.h"
#include "common/pg.h"
#include "svc/transport/gtfs_calendar.h"
#include "svc/transport/gtfs_csv.h"
#include "svc/transport/strbuf.h"
#include "svc/transport/transport.h"

#define GTFS_MAX_ENTRIES 64
#define GTFS_MAX_FILE_BYTES (96u << 20) /* uncompressed, per file */
#define GTFS_MTIME 946684800            /* 2000-01-01: fixed, so equal feeds give equal zips */
#define AGENCY_ID "metro-hcmc"
#define PUBLISHER_NAME "Metro HCMC"
#define PUBLISHER_URL "https://metro.hcmc.vn"
#define MAX_FILES 12

/* ---- export ---- */

typedef struct feed_file {
  const char *name;
  strbuf body;
} feed_file;

/* What one export holds: the lines in the feed, the stations it lists, the trips. */
typedef struct export_src {
  rpc_ctx *ctx;
  const tr_gtfs_request *req;
  Metro__Transport__V1__Station **stations; /* by id */
  int n_stations;
  Metro__Transport__V1__Line **lines; /* network order */
  int n_lines;
  tr_trip *trips;
  int n_trips;
} export_src;

static int station_index(const export_src *x, const char *id) {
  int lo = 0, hi = x->n_stations - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(x->stations[mid]->station_id, id);
    if (c == 0) return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

static const char *station_name(const export_src *x, const char *id) {
  int i = station_index(x, id);
  return i < 0 ? "" : x->stations[i]->name;
}

static int line_index(const export_src *x, const char *route_id) {
  for (int i = 0; i < x->n_lines; i++)
    if (strcmp(x->lines[i]->route_id, route_id) == 0) return i;
  return -1;
}

/* Keeps the lines the request wants, their trips, and (consumer feed, or planned lines left
 * out) only the stations those lines serve. */
static void select_content(export_src *x) {
  int k = 0;
  for (int i = 0; i < x->n_lines; i++)
    if (!x->req->exclude_planned || strcmp(x->lines[i]->status, "planned") != 0) x->lines[k++] = x->lines[i];
  x->n_lines = k;
  k = 0;
  for (int i = 0; i < x->n_trips; i++)
    if (line_index(x, x->trips[i].route_id) >= 0) x->trips[k++] = x->trips[i];
  x->n_trips = k;
  if (!x->req->consumer && !x->req->exclude_planned) return;
  bool *served = arena_alloc(x->ctx->arena, sizeof(bool) * (size_t)(x->n_stations + 1));
  for (int i = 0; i < x->n_lines; i++)
    for (size_t s = 0; s < x->lines[i]->n_stations; s++) {
      int at = station_index(x, x->lines[i]->stations[s]->station_id);
      if (at >= 0) served[at] = true;
    }
  k = 0;
  for (int i = 0; i < x->n_stations; i++)
    if (served[i]) x->stations[k++] = x->stations[i];
  x->n_stations = k;
}

/* "2026-11-24" -> "20261124". */
static const char *gtfs_date(rpc_ctx *ctx, const char *iso) {
  return arena_printf(ctx->arena, "%.4s%.2s%.2s", iso, iso + 5, iso + 8);
}

/* "2026-11-24" -> "D20261124": the admin form's one service per date. */
static const char *service_id(rpc_ctx *ctx, const char *date) {
  return arena_printf(ctx->arena, "D%s", gtfs_date(ctx, date));
}

static void write_stops(const export_src *x, feed_file *f) {
  sb_puts(&f->body, "stop_id,stop_name,stop_lat,stop_lon,location_type,metro_open_time,metro_close_time,"
                    "metro_is_active\r\n");
  for (int i = 0; i < x->n_stations; i++) {
    const Metro__Transport__V1__Station *s = x->stations[i];
    csv_put(&f->body, s->station_id);
    sb_putc(&f->body, ',');
    csv_put(&f->body, s->name);
    sb_printf(&f->body, ",%.6f,%.6f,0,%s,%s,%d\r\n", s->location ? s->location->latitude : 0,
              s->location ? s->location->longitude : 0, s->open_time, s->close_time, s->is_active ? 1 : 0);
  }
}

static void write_routes(const export_src *x, feed_file *routes, feed_file *route_stations) {
  sb_puts(&routes->body, "route_id,agency_id,route_short_name,route_long_name,route_type,route_color,"
                         "route_text_color,route_sort_order,metro_length_km,metro_duration_min,metro_status,"
                         "metro_is_active,metro_base_price\r\n");
  if (route_stations) sb_puts(&route_stations->body, "route_id,stop_id,stop_sequence\r\n");
  for (int i = 0; i < x->n_lines; i++) {
    const Metro__Transport__V1__Line *l = x->lines[i];
    sb_printf(&routes->body, "%s," AGENCY_ID ",", l->route_id);
    csv_put(&routes->body, l->code);
    sb_putc(&routes->body, ',');
    csv_put(&routes->body, l->name);
    sb_printf(&routes->body, ",1,%s,%s,%d,%.10g,%d,%s,%d,%lld\r\n", l->color, l->text_color, l->position,
              l->length_km, l->duration_min, l->status, l->is_active ? 1 : 0, (long long)l->base_price);
    for (size_t k = 0; route_stations && k < l->n_stations; k++)
      sb_printf(&route_stations->body, "%s,%s,%d\r\n", l->route_id, l->stations[k]->station_id,
                l->stations[k]->sequence);
  }
}

/* Every ordered pair of the feed's lines meeting at a station is a recommended transfer. */
static void write_transfers(const export_src *x, feed_file *f) {
  sb_puts(&f->body, "from_stop_id,to_stop_id,from_route_id,to_route_id,transfer_type\r\n");
  for (int i = 0; i < x->n_stations; i++) {
    const Metro__Transport__V1__Station *s = x->stations[i];
    for (size_t a = 0; a < s->n_route_ids; a++)
      for (size_t b = 0; b < s->n_route_ids; b++)
        if (a != b && line_index(x, s->route_ids[a]) >= 0 && line_index(x, s->route_ids[b]) >= 0)
          sb_printf(&f->body, "%s,%s,%s,%s,0\r\n", s->station_id, s->station_id, s->route_ids[a], s->route_ids[b]);
  }
}

static void write_stop_times(rpc_ctx *ctx, feed_file *f, const char *trip_id, const tr_trip *t) {
  for (int k = 0; k < t->n_stops; k++) {
    const tr_stop *s = &t->stops[k];
    int arr = s->arrival >= 0 ? s->arrival : s->departure, dep = s->departure >= 0 ? s->departure : s->arrival;
    sb_printf(&f->body, "%s,%s,%s,%s,%d\r\n", trip_id, tr_format_clock(ctx->arena, arr),
              tr_format_clock(ctx->arena, dep), s->station_id, k + 1);
  }
}

/* trips.txt up to the block: route, service, trip, headsign (the last stop), direction. */
static void write_trip_row(const export_src *x, feed_file *f, const tr_trip *t, const char *service,
                           const char *trip_id) {
  const char *last = t->n_stops > 0 ? t->stops[t->n_stops - 1].station_id : "";
  sb_printf(&f->body, "%s,%s,%s,", t->route_id, service, trip_id);
  csv_put(&f->body, station_name(x, last));
  sb_printf(&f->body, ",%d,%s\r\n", t->inbound ? 1 : 0, t->train_id ? t->train_id : "");
}

static const char *const TRIPS_HEADER = "route_id,service_id,trip_id,trip_headsign,direction_id,block_id\r\n";
static const char *const STOP_TIMES_HEADER = "trip_id,arrival_time,departure_time,stop_id,stop_sequence\r\n";
static const char *const CALENDAR_HEADER =
    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\r\n";

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The admin form: each trip as stored, on the one-day service of its date. */
static void write_dated_timetable(const export_src *x, feed_file *trips_f, feed_file *times_f,
                                  feed_file *calendar_f) {
  rpc_ctx *ctx = x->ctx;
  sb_puts(&trips_f->body, TRIPS_HEADER);
  sb_puts(&times_f->body, STOP_TIMES_HEADER);
  sb_puts(&calendar_f->body, CALENDAR_HEADER);
  const char **dates = arena_alloc(ctx->arena, sizeof(char *) * (size_t)(x->n_trips + 1));
  for (int i = 0; i < x->n_trips; i++) {
    const tr_trip *t = &x->trips[i];
    dates[i] = t->service_date;
    write_trip_row(x, trips_f, t, service_id(ctx, t->service_date), t->trip_id);
    write_stop_times(ctx, times_f, t->trip_id, t);
  }
  qsort(dates, (size_t)x->n_trips, sizeof(char *), cmp_str);
  for (int i = 0; i < x->n_trips; i++) {
    if (i > 0 && strcmp(dates[i], dates[i - 1]) == 0) continue;
    long day;
    tr_parse_day(dates[i], &day);
    int weekday = sched_weekday(day);
    const char *d = gtfs_date(ctx, dates[i]);
    sb_printf(&calendar_f->body, "%s", service_id(ctx, dates[i]));
    for (int w = 0; w < 7; w++) sb_printf(&calendar_f->body, ",%d", w == weekday);
    sb_printf(&calendar_f->body, ",%s,%s\r\n", d, d);
  }
}

/* ---- the consumer form: one trip for every date it runs alike ---- */

typedef struct dated_trip {
  const char *key; /* what makes two dates' trips the same trip */
  int offset;      /* its date - the window's first */
  const tr_trip *t;
} dated_trip;

typedef struct shared_trip {
  const tr_trip *t; /* the first date's: stops and times */
  const char *key;
  uint32_t mask;    /* bit i: runs on window first + i */
  int line, service;
  const char *id;
} shared_trip;

typedef struct shared_service {
  uint32_t mask;
  gtfs_service_days days;
  const char *id;
} shared_service;

/* Line, direction, train and every stop's station and times. */
static const char *trip_key(arena *a, const tr_trip *t) {
  strbuf b;
  sb_init(&b, a, 64 + (size_t)t->n_stops * 32);
  sb_printf(&b, "%s|%d|%s", t->route_id, t->inbound ? 1 : 0, t->train_id ? t->train_id : "");
  for (int k = 0; k < t->n_stops; k++)
    sb_printf(&b, "|%s:%d:%d", t->stops[k].station_id, t->stops[k].arrival, t->stops[k].departure);
  return b.data;
}

static int cmp_dated(const void *a, const void *b) {
  const dated_trip *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->offset > y->offset) - (x->offset < y->offset);
}

static int cmp_service(const void *a, const void *b) {
  const shared_service *x = a, *y = b;
  if (x->days.first != y->days.first) return x->days.first < y->days.first ? -1 : 1;
  return (x->mask > y->mask) - (x->mask < y->mask);
}

static int cmp_shared(const void *a, const void *b) {
  const shared_trip *x = a, *y = b;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  if (x->t->departure != y->t->departure) return x->t->departure < y->t->departure ? -1 : 1;
  if (x->t->inbound != y->t->inbound) return x->t->inbound ? 1 : -1;
  if (x->service != y->service) return x->service < y->service ? -1 : 1;
  return strcmp(x->id, y->id);
}

static int cmp_shared_id(const void *a, const void *b) {
  return strcmp((*(shared_trip *const *)a)->id, (*(shared_trip *const *)b)->id);
}

/* The distinct date sets as services, ordered by first date, named from their weekday flags
 * ("weekdays", "weekends", "weekdays-2" when two sets share flags). Sets each trip's service. */
static shared_service *make_services(rpc_ctx *ctx, long first, shared_trip *trips, int n, int *n_services) {
  shared_service *sv = arena_alloc(ctx->arena, sizeof *sv * (size_t)(n + 1));
  int ns = 0;
  for (int i = 0; i < n; i++) {
    int s = 0;
    while (s < ns && sv[s].mask != trips[i].mask) s++;
    if (s == ns) {
      sv[ns].mask = trips[i].mask;
      gtfs_service_pattern(first, trips[i].mask, &sv[ns].days);
      ns++;
    }
  }
  qsort(sv, (size_t)ns, sizeof *sv, cmp_service);
  const char **base = arena_alloc(ctx->arena, sizeof *base * (size_t)(ns + 1));
  for (int s = 0; s < ns; s++) {
    char name[40];
    base[s] = arena_strdup(ctx->arena, gtfs_service_base_name(sv[s].days.weekdays, name, sizeof name));
    int same = 1; /* base names hold no digit, so "weekdays-2" meets no other base */
    for (int p = 0; p < s; p++) same += strcmp(base[p], base[s]) == 0;
    sv[s].id = same == 1 ? base[s] : arena_printf(ctx->arena, "%s-%d", base[s], same);
  }
  for (int i = 0; i < n; i++)
    for (int s = 0; s < ns; s++)
      if (sv[s].mask == trips[i].mask) trips[i].service = s;
  *n_services = ns;
  return sv;
}

/* "<code>-<direction>-<HHMM>-<8 hex of the key>": the same trip keeps its id from one export to
 * the next; a clash of the short hash gets a suffix. */
static void name_trips(const export_src *x, shared_trip *trips, int n) {
  rpc_ctx *ctx = x->ctx;
  for (int i = 0; i < n; i++) {
    char hash[2 * CRYPTO_SHA256_LEN + 1];
    crypto_sha256_hex(trips[i].key, strlen(trips[i].key), hash);
    int dep = trips[i].t->departure;
    trips[i].id = arena_printf(ctx->arena, "%s-%d-%02d%02d-%.8s", x->lines[trips[i].line]->code,
                               trips[i].t->inbound ? 1 : 0, dep / 3600, dep / 60 % 60, hash);
  }
  shared_trip **by_id = arena_alloc(ctx->arena, sizeof *by_id * (size_t)(n + 1));
  for (int i = 0; i < n; i++) by_id[i] = &trips[i];
  qsort(by_id, (size_t)n, sizeof *by_id, cmp_shared_id);
  for (int i = 1, dup = 1; i < n; i++) {
    dup = strcmp(by_id[i]->id, by_id[i - 1]->id) == 0 ? dup + 1 : 1;
    if (dup > 1) by_id[i]->id = arena_printf(ctx->arena, "%s-%d", by_id[i]->id, dup);
  }
}

static void write_services(rpc_ctx *ctx, const shared_service *sv, int n, feed_file *calendar_f,
                           feed_file *dates_f) {
  sb_puts(&calendar_f->body, CALENDAR_HEADER);
  sb_puts(&dates_f->body, "service_id,date,exception_type\r\n");
  for (int s = 0; s < n; s++) {
    const gtfs_service_days *d = &sv[s].days;
    sb_puts(&calendar_f->body, sv[s].id);
    for (int w = 0; w < 7; w++) sb_printf(&calendar_f->body, ",%d", d->weekdays[w] ? 1 : 0);
    sb_printf(&calendar_f->body, ",%s,%s\r\n", gtfs_date(ctx, tr_format_day(ctx->arena, d->first)),
              gtfs_date(ctx, tr_format_day(ctx->arena, d->last)));
    /* Additions and removals in date order. */
    for (int a = 0, r = 0; a < d->n_added || r < d->n_removed;) {
      bool add = r >= d->n_removed || (a < d->n_added && d->added[a] < d->removed[r]);
      long day = add ? d->added[a++] : d->removed[r++];
      sb_printf(&dates_f->body, "%s,%s,%d\r\n", sv[s].id, gtfs_date(ctx, tr_format_day(ctx->arena, day)), add ? 1 : 2);
    }
  }
}

static int write_shared_timetable(const export_src *x, feed_file *trips_f, feed_file *times_f,
                                  feed_file *calendar_f, feed_file *dates_f) {
  rpc_ctx *ctx = x->ctx;
  int n = x->n_trips, n_shared = 0, n_services = 0;
  dated_trip *dated = arena_alloc(ctx->arena, sizeof *dated * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    long day = 0;
    tr_parse_day(x->trips[i].service_date, &day);
    dated[i] = (dated_trip){trip_key(ctx->arena, &x->trips[i]), (int)(day - x->req->first_day), &x->trips[i]};
  }
  qsort(dated, (size_t)n, sizeof *dated, cmp_dated);
  shared_trip *shared = arena_alloc(ctx->arena, sizeof *shared * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    if (i == 0 || strcmp(dated[i].key, dated[i - 1].key) != 0)
      shared[n_shared++] =
          (shared_trip){.t = dated[i].t, .key = dated[i].key, .line = line_index(x, dated[i].t->route_id)};
    shared[n_shared - 1].mask |= UINT32_C(1) << dated[i].offset;
  }
  shared_service *sv = make_services(ctx, x->req->first_day, shared, n_shared, &n_services);
  name_trips(x, shared, n_shared);
  qsort(shared, (size_t)n_shared, sizeof *shared, cmp_shared);
  sb_puts(&trips_f->body, TRIPS_HEADER);
  sb_puts(&times_f->body, STOP_TIMES_HEADER);
  for (int i = 0; i < n_shared; i++) {
    write_trip_row(x, trips_f, shared[i].t, sv[shared[i].service].id, shared[i].id);
    write_stop_times(ctx, times_f, shared[i].id, shared[i].t);
  }
  write_services(ctx, sv, n_services, calendar_f, dates_f);
  return n_shared;
}

/* ---- feed_info.txt and the archive ---- */

/* The dates the feed speaks for: the window asked for, else the first and last date held. */
static void feed_dates(const export_src *x, const char **start, const char **end) {
  rpc_ctx *ctx = x->ctx;
  *start = *end = "";
  if (x->req->days > 0) {
    *start = gtfs_date(ctx, tr_format_day(ctx->arena, x->req->first_day));
    *end = gtfs_date(ctx, tr_format_day(ctx->arena, x->req->first_day + x->req->days - 1));
    return;
  }
  const char *lo = NULL, *hi = NULL;
  for (int i = 0; i < x->n_trips; i++) {
    const char *d = x->trips[i].service_date;
    if (!lo || strcmp(d, lo) < 0) lo = d;
    if (!hi || strcmp(d, hi) > 0) hi = d;
  }
  if (lo) *start = gtfs_date(ctx, lo), *end = gtfs_date(ctx, hi);
}

/* feed_version: the first date and 12 hex of a hash over the other files, so the version
 * changes exactly when the content does (and an export -> import -> export keeps it). */
static const char *write_feed_info(const export_src *x, feed_file *files, int n, feed_file *f) {
  rpc_ctx *ctx = x->ctx;
  strbuf all;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += strlen(files[i].name) + files[i].body.len + 1;
  sb_init(&all, ctx->arena, total + 1);
  for (int i = 0; i < n; i++) {
    sb_append(&all, files[i].name, strlen(files[i].name) + 1);
    sb_append(&all, files[i].body.data, files[i].body.len);
  }
  char hash[2 * CRYPTO_SHA256_LEN + 1];
  crypto_sha256_hex(all.data, all.len, hash);
  const char *start, *end;
  feed_dates(x, &start, &end);
  const char *version = arena_printf(ctx->arena, "%s-%.12s", *start ? start : "empty", hash);
  sb_puts(&f->body, "feed_publisher_name,feed_publisher_url,feed_lang,feed_start_date,feed_end_date,feed_version,"
                    "feed_contact_url\r\n" PUBLISHER_NAME "," PUBLISHER_URL ",vi,");
  sb_printf(&f->body, "%s,%s,%s," PUBLISHER_URL "\r\n", start, end, version);
  return version;
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

static rpc_status last_modified(rpc_ctx *ctx, const tr_gtfs_request *req, int64_t *us) {
  const char *params[2] = {req->days > 0 ? tr_format_day(ctx->arena, req->first_day) : NULL,
                           req->days > 0 ? tr_format_day(ctx->arena, req->first_day + req->days) : NULL};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " SQL_US("greatest((SELECT changed_at FROM network_state WHERE id = 1), "
                                           "(SELECT max(changed_at) FROM timetable_changes WHERE $1::date IS NULL "
                                           "OR (service_date >= $1::date AND service_date < $2::date)))"),
                          2, params);
  if (!rpc_ok(st)) return st;
  const char *v = pg_value(r, 0, 0);
  *us = v ? strtoll(v, NULL, 10) : 0;
  return RPC_OK;
}

static feed_file *add_file(feed_file *files, int *n, const char *name, arena *a, size_t initial) {
  feed_file *f = &files[(*n)++];
  f->name = name;
  sb_init(&f->body, a, initial);
  return f;
}

rpc_status tr_gtfs_export(rpc_ctx *ctx, const tr_gtfs_request *req, tr_gtfs_feed *out) {
  export_src x = {.ctx = ctx, .req = req};
  if (req->consumer && (req->days < 1 || req->days > GTFS_MAX_WINDOW))
    return rpc_invalid(ctx->arena, "days", "INVALID_DAYS", "a consumer feed covers 1-%d days", GTFS_MAX_WINDOW);
  rpc_status st = tr_station_list(ctx, 0, 1000000, &x.stations, &x.n_stations);
  if (rpc_ok(st)) st = tr_line_list(ctx, 0, 1000000, false, &x.lines, &x.n_lines);
  if (rpc_ok(st)) st = tr_trips_all(ctx, req->first_day, req->days, &x.trips, &x.n_trips);
  if (rpc_ok(st)) st = last_modified(ctx, req, &out->last_modified_us);
  if (!rpc_ok(st)) return st;
  select_content(&x);
  feed_file files[MAX_FILES];
  int n = 0;
  arena *a = ctx->arena;
  feed_file *agency = add_file(files, &n, "agency.txt", a, 256);
  sb_puts(&agency->body, "agency_id,agency_name,agency_url,agency_timezone,agency_lang\r\n" AGENCY_ID
                         "," PUBLISHER_NAME "," PUBLISHER_URL ",Asia/Ho_Chi_Minh,vi\r\n");
  write_stops(&x, add_file(files, &n, "stops.txt", a, 8192));
  feed_file *routes = add_file(files, &n, "routes.txt", a, 2048);
  feed_file *trips = add_file(files, &n, "trips.txt", a, (size_t)x.n_trips * 100 + 256);
  feed_file *times = add_file(files, &n, "stop_times.txt", a, (size_t)x.n_trips * 800 + 256);
  feed_file *calendar = add_file(files, &n, "calendar.txt", a, 4096);
  if (req->consumer) {
    feed_file *dates = add_file(files, &n, "calendar_dates.txt", a, 4096);
    write_routes(&x, routes, NULL);
    out->trips = write_shared_timetable(&x, trips, times, calendar, dates);
  } else {
    write_routes(&x, routes, add_file(files, &n, "metro_route_stations.txt", a, 8192));
    write_dated_timetable(&x, trips, times, calendar);
    out->trips = x.n_trips;
  }
  write_transfers(&x, add_file(files, &n, "transfers.txt", a, 4096));
  int hashed = n;
  feed_file *info = add_file(files, &n, "feed_info.txt", a, 512);
  out->version = write_feed_info(&x, files, hashed, info);
  return zip_files(ctx, files, n, &out->zip, &out->len);
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
      c_active = csv_column(t, "metro_is_active"), c_price = csv_column(t, "metro_base_price"),
      c_color = csv_column(t, "route_color"), c_text_color = csv_column(t, "route_text_color");
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
    l.color = (char *)csv_get(t, i, c_color);
    l.text_color = (char *)csv_get(t, i, c_text_color);
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
