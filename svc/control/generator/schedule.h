/* The timetable rules of domain spec §3 (demo fleet) and §16 (headways, departures, stop timing,
 * train assignment): pure code, the one generator both metro-control and transport's demo seed link. */
#ifndef METRO_CONTROL_SCHEDULE_H
#define METRO_CONTROL_SCHEDULE_H

#include <stdbool.h>

#define SCHED_DAY_S 86400
/* Departures per direction and day: 120 s headways over the 18 service hours (540) and a
 * restart at each band start fit. */
#define SCHED_MAX_DEPARTURES 600
#define SCHED_N_SERVICE_BANDS 8

/* Timing settings (spec §19: dwell / big dwell / turnaround 40 / 75 / 600 s). */
typedef struct sched_rules {
  int dwell_s;
  int big_dwell_s;           /* at big interchanges */
  int big_interchange_lines; /* a station on at least this many lines is big (3) */
  int turnaround_s;
} sched_rules;

extern const sched_rules sched_default_rules;

/* Headway settings (spec §19: load factor 0.7, clamp [120, 900] s). */
typedef struct sched_limits {
  int load_factor_pct;
  int min_headway_s, max_headway_s;
} sched_limits;

extern const sched_limits sched_default_limits;

/* Demo fleet of a line: active = ceil(2.4 x (durationMin x 60 + 600) / 180),
 * maintenance = ceil(0.2 x active); express when durationMin >= 60. */
void sched_fleet(int duration_min, int *active, int *maintenance);
bool sched_is_express(int duration_min);
int sched_capacity(bool express); /* 1300 or 900 */

/* Saturday or Sunday for a date given as days since 1970-01-01. */
bool sched_is_weekend(long days);
/* 0 = Monday ... 6 = Sunday, for days since 1970-01-01. */
int sched_weekday(long days);

/* A service band [start, end) in seconds from midnight, with its headway (0 = not set). */
typedef struct sched_band {
  int start, end, headway;
} sched_band;

/* The 8 service bands the demand model sets headways for (05:00-06:30 ... 21:30-23:00). */
extern const sched_band sched_service_bands[SCHED_N_SERVICE_BANDS];
/* The fallback bands with their headways: weekday, or weekend and holiday. Returns the count. */
int sched_fallback_bands(bool weekend_or_holiday, const sched_band **out);

/* Headway for a band demand D (passengers per hour): 3600 / (D / (capacity x load factor)),
 * floored and clamped to [min, max]; D <= 0 gives max. */
int sched_headway(double demand, int capacity, const sched_limits *lim);
/* Fleet limit: ceil(2.4 x (durationMin x 60 + turnaround) / activeTrains); 0 when there is
 * no train (the caller plans no trips then: NO_ACTIVE_TRAINS). */
int sched_fleet_headway(int duration_min, int turnaround_s, int active_trains);

/* Departures of one terminus: s, s+h, ... while t < the band end for each band in order, with
 * h = max(band headway, min_headway); a time not after the previous one is dropped (no boundary
 * twice). Returns the count (at most cap). */
int sched_departures(const sched_band *bands, int n_bands, int min_headway, int *out, int cap);
/* The fallback departures of a day type without a fleet limit (217 on a weekday, 132 at a weekend). */
int sched_fallback_departures(bool weekend, int *out, int cap);

/* One line as the generator sees it. */
typedef struct sched_line {
  int duration_min;
  int n_stations;           /* >= 2 */
  const int *station_lines; /* per station in sequence order: how many lines serve it */
  int n_trains;             /* active trains, in ascending train id order */
} sched_line;

/* Arrival and departure at each stop of a trip in trip order (inbound runs n -> 1);
 * arrival[0] and departure[n-1] are -1 (none). Running time R = durationMin x 60 - dwells,
 * stop k after floor(k x R / (n - 1)) s of running plus the dwells before it. */
void sched_stop_times(const sched_rules *r, const sched_line *l, bool inbound, int departure, int *arrival,
                      int *departure_out);

typedef struct sched_trip {
  bool inbound;
  int departure, arrival;
  int train; /* index into the line's trains, -1 = unassigned */
} sched_trip;

/* The trips of one line and day: the same departures from both termini, sorted by
 * departure (outbound first on ties), with trains assigned (earliest ready at the terminus,
 * lowest index on ties, else the first unused; ready again turnaround after arriving).
 * Returns the count (at most cap) and the unassigned count in *unassigned. */
int sched_generate(const sched_rules *r, const sched_line *l, const int *departures, int n_departures,
                   sched_trip *out, int cap, int *unassigned);

/* A whole day of one line: the trips and each one's stop times. */
typedef struct sched_day {
  int n_trips, unassigned;
  int n_stations;
  int fleet_headway;  /* the fleet limit applied (s) */
  sched_trip *trips;  /* by departure, outbound first on ties */
  int *times;         /* per trip 2 x n_stations: arrival, departure at each stop in trip order (-1 = none) */
} sched_day;

/* Plans the day from headway bands, the line's fleet limit applied; no trips when the line has
 * no active train. False when out of memory. Free with sched_day_free. */
bool sched_day_build(const sched_rules *r, const sched_line *l, const sched_band *bands, int n_bands,
                     sched_day *out);
void sched_day_free(sched_day *d);
static inline int sched_day_arrival(const sched_day *d, int trip, int stop) {
  return d->times[(trip * d->n_stations + stop) * 2];
}
static inline int sched_day_departure(const sched_day *d, int trip, int stop) {
  return d->times[(trip * d->n_stations + stop) * 2 + 1];
}

#endif
