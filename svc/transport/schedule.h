/* Line operation rules: the demo fleet of a line (domain spec §3) and trip generation
 * with the fallback headways, stop timing and train assignment of spec §16. Pure code. */
#ifndef METRO_TRANSPORT_SCHEDULE_H
#define METRO_TRANSPORT_SCHEDULE_H

#include <stdbool.h>

#define SCHED_DAY_S 86400
#define SCHED_MAX_DEPARTURES 512 /* per direction and day: 120 s headways over 18 h fit */

/* Timing settings (spec §19: dwell / big dwell / turnaround 40 / 75 / 600 s). */
typedef struct sched_rules {
  int dwell_s;
  int big_dwell_s;        /* at big interchanges */
  int big_interchange_lines; /* a station on at least this many lines is big (3) */
  int turnaround_s;
} sched_rules;

extern const sched_rules sched_default_rules;

/* Demo fleet of a line: active = ceil(2.4 x (durationMin x 60 + 600) / 180),
 * maintenance = ceil(0.2 x active); express when durationMin >= 60. */
void sched_fleet(int duration_min, int *active, int *maintenance);
bool sched_is_express(int duration_min);
int sched_capacity(bool express); /* 1300 or 900 */

/* Saturday or Sunday for a date given as days since 1970-01-01. */
bool sched_is_weekend(long days);

/* Departure times (seconds from midnight) of one terminus under the fallback headways of
 * the day type, ascending. Returns the count (217 on a weekday, 132 at a weekend). */
int sched_fallback_departures(bool weekend, int *out, int cap);

/* One line as the generator sees it. */
typedef struct sched_line {
  int duration_min;
  int n_stations;          /* >= 2 */
  const int *station_lines; /* per station in sequence order: how many lines serve it */
  int n_trains;            /* active trains, in ascending train id order */
} sched_line;

/* Arrival and departure at each stop of a trip in trip order (inbound runs n -> 1);
 * arrival[0] and departure[n-1] are -1 (none). */
void sched_stop_times(const sched_rules *r, const sched_line *l, bool inbound, int departure, int *arrival,
                      int *departure_out);

typedef struct sched_trip {
  bool inbound;
  int departure, arrival;
  int train; /* index into the line's trains, -1 = unassigned */
} sched_trip;

/* The trips of one line and day: the same departures from both termini, sorted by
 * departure (outbound first on ties), with trains assigned. Returns the count (at most
 * cap) and the unassigned count in *unassigned. */
int sched_generate(const sched_rules *r, const sched_line *l, const int *departures, int n_departures,
                   sched_trip *out, int cap, int *unassigned);

#endif
