/* The control service's shared declarations (domain spec §16): settings and state, the network
 * as the forecast and generator see it, and what each file exports to the others. */
#ifndef METRO_CONTROL_H
#define METRO_CONTROL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/events.h"
#include "common/rpc_server.h"
#include "metro/control/v1/control.pb-c.h"
#include "metro/transport/v1/transport.pb-c.h"
#include "svc/control/generator/schedule.h"

#define CT_LOCAL_UTC_OFFSET_S (7 * 3600) /* Asia/Ho_Chi_Minh: UTC+7, no daylight saving */
#define CT_MAX_DAYS 31                   /* dates per GenerateSchedules call (the feed: 30) */
#define CT_WEIGHTS 8                     /* samples per forecast, weighted 8...1 */
#define CT_MODEL_MIN_DAYS 14             /* dates of data before a line has a model */
#define CT_HOLIDAY_MIN_SAMPLES 3         /* holiday samples before holidays stand on their own */
#define CT_HOLIDAY_FACTOR 0.6            /* until then, a holiday = Sunday x 0.6 */
#define CT_HOLIDAY 7                     /* day types: 0 = Monday ... 6 = Sunday, 7 = holiday */
#define CT_MAX_LEGS 16

typedef struct ct_settings {
  char *transport_addr;
  int64_t call_timeout_ms;   /* reads from transport */
  int64_t upsert_timeout_ms; /* one BulkUpsertTrips */
  int64_t network_cache_ms;  /* how long the consumer trusts its copy of the lines */
  int64_t dwell_s, big_dwell_s, turnaround_s;
  int64_t load_factor_pct, min_headway_s, max_headway_s;
} ct_settings;

/* The lines as transport last answered (a packed ListLinesResponse), for the consumer. */
typedef struct ct_network_cache {
  pthread_mutex_t lock;
  uint8_t *packed;
  size_t len;
  int64_t loaded_ms; /* monotonic; 0 = never */
} ct_network_cache;

typedef struct ct_state {
  ct_settings settings;
  sched_rules rules;
  sched_limits limits;
  ct_network_cache network;
} ct_state;

static inline const ct_state *ct_st(const rpc_ctx *ctx) { return (const ct_state *)ctx->state; }

/* ---- the network (journeys.c builds it; transport_client.c fetches it) ---- */

typedef struct ct_line {
  const char *route_id;
  int duration_min;
  bool is_active;
  int n_stations;
  const char **stations; /* in sequence order */
  int *station_lines;    /* per station: how many active lines serve it (big interchanges) */
} ct_line;

typedef struct ct_network {
  ct_line *lines; /* network order */
  int n_lines;
} ct_network;

/* One line ridden on a journey, in a direction. */
typedef struct ct_leg {
  const ct_line *line;
  bool inbound; /* against the sequence (n -> 1) */
} ct_leg;

/* ==== journeys.c: pure ==== */

ct_network *ct_network_from_lines(arena *a, Metro__Transport__V1__Line *const *lines, int n);
const ct_line *ct_network_line(const ct_network *net, const char *route_id);
int ct_line_position(const ct_line *l, const char *station_id); /* -1 when not on it */
/* The lines of a journey from `entry` to `exit` riding route_ids (in either order): the rider
 * changes at the station two consecutive lines share; a leg that rides no hop is left out.
 * Returns the count, or -1 when the lines do not chain from entry to exit. */
int ct_journey_legs(const ct_network *net, const char *entry, const char *exit, char *const *route_ids, size_t n,
                    ct_leg *out, int cap);
/* The legs of a planned journey's segments; -1 when a segment is not on the network. */
int ct_plan_legs(const ct_network *net, const Metro__Transport__V1__JourneyPlan *plan, ct_leg *out, int cap);

/* ==== calendar.c: pure ==== */

bool ct_parse_day(const char *s, long *day); /* strict YYYY-MM-DD -> days since 1970-01-01 */
char *ct_format_day(arena *a, long day);
long ct_today(void);                         /* Asia/Ho_Chi_Minh */
/* The local service date and hour (0-23) of a UTC instant in µs. */
void ct_local_day_hour(int64_t utc_us, long *day, int *hour);
int ct_day_type(long day, bool holiday);     /* 0-6 Monday-Sunday, CT_HOLIDAY */
const char *ct_day_type_name(int day_type);  /* "monday" ... "holiday" */
char *ct_format_clock(arena *a, int seconds); /* "HH:MM:SS" (HH may pass 24); "" for -1 */
char *ct_format_hhmm(arena *a, int seconds);  /* "HH:MM" */

/* ==== forecast.c: pure ==== */

typedef struct ct_hours {
  double pax[2][24]; /* [0] outbound, [1] inbound, by local hour of entry */
} ct_hours;

/* The weighted mean of n (1-8) sample days, newest first, weighted 8, 7, ... (newest heaviest). */
void ct_weighted_mean(const ct_hours *days, int n, ct_hours *out);

typedef struct ct_forecast_input {
  int day_type;                /* of the date forecast */
  int data_days;               /* dates with data before the cutoff */
  const ct_hours *samples;     /* the last dates of the day type, newest first */
  int n_samples;               /* at most CT_WEIGHTS */
  const ct_hours *sundays;     /* a holiday's stand-in: the last Sundays */
  int n_sundays;
} ct_forecast_input;

typedef enum { CT_BASIS_NONE, CT_BASIS_DAY_TYPE, CT_BASIS_SUNDAY } ct_basis;

typedef struct ct_forecast {
  bool model;     /* false: the fallback headways apply */
  ct_basis basis;
  int samples;
  int data_days;
  int day_type;
  ct_hours hours;
} ct_forecast;

/* A model once the line has CT_MODEL_MIN_DAYS of data: the day type's weighted mean, or for a
 * holiday with fewer than 3 samples the Sundays' x 0.6; no sample at all = fallback. */
void ct_forecast_compute(const ct_forecast_input *in, ct_forecast *out);
/* Band demand D: the highest hourly forecast, either direction, over the hours the band touches. */
double ct_band_demand(const ct_hours *h, int start_s, int end_s);
/* The 8 service bands with the headway of their demand (clamped, before the fleet limit). */
void ct_model_bands(const ct_hours *h, int capacity, const sched_limits *lim, sched_band *bands, double *demand);

/* ==== transport_client.c ==== */

/* Every line with its stations: the consumer's cached copy (fresh = ask transport now). */
rpc_status ct_network_get(rpc_ctx *ctx, bool fresh, ct_network **out);
void ct_network_cache_destroy(ct_state *st);
/* A line's active trains, ids ascending, and the smallest capacity among them (0 when none).
 * Asked with the caller's identity (ListTrains is for staff). */
rpc_status ct_active_trains(rpc_ctx *ctx, const char *route_id, const char ***ids, int *n, int *capacity);
rpc_status ct_plan_journey(rpc_ctx *ctx, const char *from, const char *to, Metro__Transport__V1__JourneyPlan **out);
/* BulkUpsertTrips with the caller's identity (an admin, or the scheduler's admin service identity). */
rpc_status ct_bulk_upsert(rpc_ctx *ctx, const Metro__Transport__V1__BulkUpsertTripsRequest *req,
                          Metro__Transport__V1__BulkUpsertTripsResponse **out);

/* ==== store.c: the control schema ==== */

/* Adds passengers to one (line, date, direction, hour) slot. */
rpc_status ct_demand_add(rpc_ctx *ctx, const char *route_id, long day, bool inbound, int hour, int passengers);
/* The forecast of a line for a date from the demand data before min(day, today). */
rpc_status ct_forecast_load(rpc_ctx *ctx, const char *route_id, long day, long today, ct_forecast *out);
rpc_status ct_holiday_insert(rpc_ctx *ctx, long day, const char *name);
rpc_status ct_holiday_delete(rpc_ctx *ctx, long day, bool *deleted);
/* Holidays after the cursor (NULL = from the start), by date; one more than page_size tells a next page. */
rpc_status ct_holiday_list(rpc_ctx *ctx, const char *after_us, const char *after_id, int limit,
                           Metro__Control__V1__Holiday ***out, const char ***ids, int *n);
/* Records one (line, date) of a run and publishes schedule.generated, in one transaction. */
rpc_status ct_run_record(rpc_ctx *ctx, const Metro__Control__V1__ScheduleRun *run);

/* ==== generate.c ==== */

rpc_status ct_generate(rpc_ctx *ctx, const Metro__Control__V1__GenerateSchedulesRequest *req,
                       Metro__Control__V1__GenerateSchedulesResponse **out);
/* The bands a (line, date) runs with: the model's 8 bands or the fallback table's, each headway
 * at least the fleet limit; *n the count. */
void ct_plan_bands(const ct_state *st, const ct_forecast *f, long day, int capacity, int fleet_headway,
                   sched_band *bands, double *demand, int *n);

/* ==== consumers.c ==== */

extern const ev_subscription ct_subscriptions[];
extern const size_t ct_n_subscriptions;

/* ==== handlers.c ==== */

extern const rpc_service_impl control_service_impl;

#endif
