/* The transport service's shared declarations: settings and state, the trip record,
 * and what its handler, store, planner-cache, event, validation, seed and GTFS files export. */
#ifndef METRO_TRANSPORT_H
#define METRO_TRANSPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/rpc_server.h"
#include "metro/transport/v1/transport.pb-c.h"
#include "svc/transport/planner.h"
#include "svc/control/generator/schedule.h"

#define TR_LOCAL_UTC_OFFSET_S (7 * 3600) /* Asia/Ho_Chi_Minh: UTC+7, no daylight saving */
#define TR_MAX_LINE_STATIONS 200
#define TR_MAX_TRIPS_PER_DAY 4096        /* per (line, service date) */

typedef struct transport_settings {
  int64_t transfer_penalty;
  char *network_in_service;  /* "all" or "operational": which seeded lines start active */
  int64_t demo_trip_days;    /* days of demo trips generated at start (today + n-1); 0 = none */
  int64_t dwell_s, big_dwell_s, turnaround_s;
  int64_t planner_recheck_ms; /* how stale another replica's catalog write may leave the graph */
} transport_settings;

/* The planner graph, rebuilt lazily when the network version moves. */
typedef struct transport_graph_cache {
  pthread_rwlock_t lock;
  planner *graph;            /* NULL until first use */
  int64_t version;           /* network_state.version it was built from */
  _Atomic int64_t checked_ms; /* monotonic ms of the last version check */
  atomic_bool stale;         /* set by this process's catalog writes */
} transport_graph_cache;

typedef struct transport_state {
  transport_settings settings;
  sched_rules rules;
  transport_graph_cache cache;
  pthread_t seed_thread;     /* generates the demo trips after start-up */
  bool seed_running;
  atomic_bool seed_stop;
} transport_state;

/* A trip with its stops; times are seconds from the service date's midnight, -1 = none. */
typedef struct tr_stop {
  const char *station_id;
  int arrival, departure;
} tr_stop;

typedef struct tr_trip {
  const char *trip_id;       /* UUID */
  const char *route_id;
  const char *service_date;  /* YYYY-MM-DD */
  bool inbound;
  const char *train_id;      /* NULL = unassigned */
  int departure, arrival;
  tr_stop *stops;
  int n_stops;
} tr_trip;

/* ---- catalog.c: stations, lines, line stations, trains (parameterized SQL) ---- */
rpc_status tr_station_get(rpc_ctx *ctx, const char *station_id, Metro__Transport__V1__Station **out);
rpc_status tr_station_list(rpc_ctx *ctx, int offset, int limit, Metro__Transport__V1__Station ***out, int *n);
rpc_status tr_station_insert(rpc_ctx *ctx, const Metro__Transport__V1__Station *s);
rpc_status tr_station_update(rpc_ctx *ctx, const Metro__Transport__V1__Station *s); /* every column */
rpc_status tr_station_delete(rpc_ctx *ctx, const char *station_id);
rpc_status tr_line_get(rpc_ctx *ctx, const char *route_id, Metro__Transport__V1__Line **out);
rpc_status tr_line_list(rpc_ctx *ctx, int offset, int limit, bool active_only, Metro__Transport__V1__Line ***out,
                        int *n);
rpc_status tr_line_insert(rpc_ctx *ctx, const Metro__Transport__V1__Line *l);
rpc_status tr_line_update(rpc_ctx *ctx, const Metro__Transport__V1__Line *l);
rpc_status tr_line_delete(rpc_ctx *ctx, const char *route_id);
rpc_status tr_line_set_stations(rpc_ctx *ctx, const char *route_id, char *const *station_ids, int n);
rpc_status tr_train_get(rpc_ctx *ctx, const char *train_id, Metro__Transport__V1__Train **out);
rpc_status tr_train_list(rpc_ctx *ctx, int offset, int limit, const char *route_id, const char *status,
                         Metro__Transport__V1__Train ***out, int *n);
rpc_status tr_train_insert(rpc_ctx *ctx, const Metro__Transport__V1__Train *t);
rpc_status tr_train_update(rpc_ctx *ctx, const Metro__Transport__V1__Train *t);
rpc_status tr_train_delete(rpc_ctx *ctx, const char *train_id);
/* Active train ids of a line in ascending id order. */
rpc_status tr_train_active_ids(rpc_ctx *ctx, const char *route_id, const char ***ids, int *n);
/* Bumps network_state.version (inside the write's transaction). */
rpc_status tr_network_touch(rpc_ctx *ctx);
rpc_status tr_network_version(rpc_ctx *ctx, int64_t *version);

/* ---- timetable.c: trips and stops ---- */
rpc_status tr_trips_of_line(rpc_ctx *ctx, const char *route_id, const char *date, const char *direction, int offset,
                            int limit, Metro__Transport__V1__Trip ***out, int *n);
rpc_status tr_departures(rpc_ctx *ctx, const char *station_id, long day, int from_s, const char *route_id, int limit,
                         Metro__Transport__V1__Departure ***out, int *n);
rpc_status tr_trips_between(rpc_ctx *ctx, const char *origin, const char *dest, const char *date, int from_s,
                            int offset, int limit, Metro__Transport__V1__TripBetween ***out, int *n);
rpc_status tr_trip_count(rpc_ctx *ctx, const char *route_id, const char *date, int *n);
rpc_status tr_trips_delete(rpc_ctx *ctx, const char *route_id, const char *date);
/* Inserts trips (all of one line) with their stops in two statements. */
rpc_status tr_trips_insert(rpc_ctx *ctx, const tr_trip *trips, int n);
/* Every trip with its stops, optionally within [first_day, first_day + days), in export order. */
rpc_status tr_trips_all(rpc_ctx *ctx, long first_day, int days, tr_trip **out, int *n);
/* Generates the trips of one line and date with the §16 fallback rules (idempotent: a date
 * that has trips is left alone). *created gets the number of new trips. */
rpc_status tr_generate_day(rpc_ctx *ctx, const Metro__Transport__V1__Line *line, long day, int *created,
                           int *unassigned);

/* ---- journeys.c: the planner graph cache ---- */
rpc_status tr_plan(rpc_ctx *ctx, const char *origin, const char *destination, Metro__Transport__V1__JourneyPlan **out);
/* Marks the graph stale after a committed catalog write. */
void tr_graph_invalidate(transport_state *st);
void tr_graph_destroy(transport_state *st);

/* ---- network_events.c: catalog.changed, station.status_changed, station.deactivated ---- */
rpc_status tr_emit_catalog_changed(rpc_ctx *ctx, const char *entity, const char *id);
rpc_status tr_emit_station_status(rpc_ctx *ctx, const char *station_id, const char *name, bool from, bool to,
                                  const char *reason);

/* ---- validation.c: field rules (spec §3) and text formats ---- */
/* The slug of a name: lower case, Vietnamese diacritics removed, đ -> d, other runs -> "-". */
bool tr_slugify(const char *name, char *out, size_t cap);
bool tr_valid_slug(const char *s, size_t max_len);
/* A line colour: "" (none) or six hex digits, either case (GTFS route_color). */
bool tr_valid_color(const char *s);
/* "HH:MM" (00:00-23:59) -> minutes; -1 when malformed. */
int tr_parse_hhmm(const char *s);
/* "HH:MM[:SS]" with HH up to 47 -> seconds; -1 when malformed. */
int tr_parse_clock(const char *s);
/* Seconds -> "HH:MM:SS" (HH may pass 24) into the arena. */
char *tr_format_clock(arena *a, int seconds);
/* YYYY-MM-DD <-> days since 1970-01-01. */
bool tr_parse_day(const char *s, long *day);
char *tr_format_day(arena *a, long day);
long tr_today(void); /* in Asia/Ho_Chi_Minh */
rpc_status tr_validate_station(rpc_ctx *ctx, const char *prefix, const Metro__Transport__V1__Station *s);
rpc_status tr_validate_line(rpc_ctx *ctx, const char *prefix, const Metro__Transport__V1__Line *l);
rpc_status tr_validate_train(rpc_ctx *ctx, const char *prefix, const Metro__Transport__V1__Train *t);
rpc_status tr_require_id(rpc_ctx *ctx, const char *field, const char *value);
/* Page tokens: an opaque encoding of an offset. */
rpc_status tr_page(rpc_ctx *ctx, int32_t page_size, const char *token, int def, int max, int *offset, int *limit);
const char *tr_next_token(rpc_ctx *ctx, int offset, int limit, int got);

/* ---- trips.c: trip validation and conversion (BulkUpsertTrips and GTFS import) ---- */
/* Checks a trip against its line (stops in line order for its direction, times rising)
 * and converts it; field names start with `prefix`. */
rpc_status tr_trip_from_proto(rpc_ctx *ctx, const char *prefix, const Metro__Transport__V1__Line *line,
                              const char *date, const Metro__Transport__V1__Trip *in, tr_trip *out);
Metro__Transport__V1__Trip *tr_trip_to_proto(rpc_ctx *ctx, const tr_trip *t);

/* ---- gtfs.c: the static feed ---- */
typedef struct tr_gtfs_request {
  long first_day;
  int days;             /* 0 = every service date held (not for a consumer feed: 1-32) */
  bool consumer;        /* the feed for transit tools: shared services, stable trip ids */
  bool exclude_planned; /* leave out the lines whose status is "planned" */
} tr_gtfs_request;

typedef struct tr_gtfs_feed {
  uint8_t *zip;
  size_t len;
  int trips;                /* rows of trips.txt */
  const char *version;      /* feed_info.txt's feed_version */
  int64_t last_modified_us; /* the last write to the catalog or to the trips of a date in the feed */
} tr_gtfs_feed;

/* Reads everything inside the caller's (repeatable read) transaction. */
rpc_status tr_gtfs_export(rpc_ctx *ctx, const tr_gtfs_request *req, tr_gtfs_feed *out);
rpc_status tr_gtfs_import(rpc_ctx *ctx, const uint8_t *zip, size_t len, Metro__Transport__V1__ImportGtfsResponse *out);

/* ---- seed.c: the demo network, fleet and trips ---- */
/* The network and fleet, in one transaction, when the network was never seeded. */
bool tr_seed(transport_state *st);
/* Generates the demo trips (today + METRO_DEMO_TRIP_DAYS - 1) on a background thread, so
 * the service answers meanwhile; stop interrupts it between (line, date) units. */
bool tr_seed_trips_start(transport_state *st);
void tr_seed_trips_stop(transport_state *st);

/* ---- handlers.c ---- */
extern const rpc_service_impl transport_service_impl;
/* Commits when st is OK (then marks the graph stale), rolls back otherwise. */
rpc_status tr_finish_write(rpc_ctx *ctx, rpc_status st);

#endif
