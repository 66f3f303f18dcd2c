/* Line operation rules (domain spec §3 fleet, §16 trip generation): fallback and demand
 * headways per band with the fleet limit, stop timing from the line's duration and dwells, and
 * the earliest-ready train assignment with turnaround at the termini. */
#include "svc/control/generator/schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const sched_rules sched_default_rules = {.dwell_s = 40, .big_dwell_s = 75, .big_interchange_lines = 3,
                                         .turnaround_s = 600};
const sched_limits sched_default_limits = {.load_factor_pct = 70, .min_headway_s = 120, .max_headway_s = 900};

void sched_fleet(int duration_min, int *active, int *maintenance) {
  /* ceil(2.4 x (D x 60 + 600) / 180) = ceil(24 x (D x 60 + 600) / 1800), in integers. */
  long cycle = (long)duration_min * 60 + 600;
  *active = (int)((24 * cycle + 1799) / 1800);
  *maintenance = (*active + 4) / 5;
}

bool sched_is_express(int duration_min) { return duration_min >= 60; }
int sched_capacity(bool express) { return express ? 1300 : 900; }

int sched_weekday(long days) { return (int)(((days % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday */ }
bool sched_is_weekend(long days) { return sched_weekday(days) >= 5; }

#define HM(h, m) ((h) * 3600 + (m) * 60)

const sched_band sched_service_bands[SCHED_N_SERVICE_BANDS] = {
    {HM(5, 0), HM(6, 30), 0},   {HM(6, 30), HM(8, 30), 0},  {HM(8, 30), HM(11, 0), 0},  {HM(11, 0), HM(13, 30), 0},
    {HM(13, 30), HM(17, 0), 0}, {HM(17, 0), HM(19, 30), 0}, {HM(19, 30), HM(21, 30), 0}, {HM(21, 30), HM(23, 0), 0},
};

static const sched_band weekday_bands[] = {
    {HM(5, 0), HM(6, 30), 480},  {HM(6, 30), HM(8, 30), 180}, {HM(8, 30), HM(17, 0), 360},
    {HM(17, 0), HM(19, 30), 180}, {HM(19, 30), HM(23, 0), 420},
};
static const sched_band weekend_bands[] = {
    {HM(5, 0), HM(8, 0), 540}, {HM(8, 0), HM(17, 0), 480}, {HM(17, 0), HM(20, 0), 420}, {HM(20, 0), HM(23, 0), 600},
};

int sched_fallback_bands(bool weekend_or_holiday, const sched_band **out) {
  *out = weekend_or_holiday ? weekend_bands : weekday_bands;
  return weekend_or_holiday ? (int)(sizeof weekend_bands / sizeof *weekend_bands)
                            : (int)(sizeof weekday_bands / sizeof *weekday_bands);
}

int sched_headway(double demand, int capacity, const sched_limits *lim) {
  if (!(demand > 0)) return lim->max_headway_s; /* also NaN */
  /* 3600 / (D / (capacity x lf)) = 3600 x capacity x pct / (100 x D) */
  double h = floor(3600.0 * capacity * lim->load_factor_pct / (100.0 * demand));
  if (h >= lim->max_headway_s) return lim->max_headway_s;
  if (h <= lim->min_headway_s) return lim->min_headway_s;
  return (int)h;
}

int sched_fleet_headway(int duration_min, int turnaround_s, int active_trains) {
  if (active_trains <= 0) return 0;
  /* ceil(2.4 x cycle / n) = ceil(24 x cycle / (10 x n)) */
  long cycle = (long)duration_min * 60 + turnaround_s, den = 10L * active_trains;
  return (int)((24 * cycle + den - 1) / den);
}

int sched_departures(const sched_band *bands, int n_bands, int min_headway, int *out, int cap) {
  int n = 0;
  for (int b = 0; b < n_bands; b++) {
    int h = bands[b].headway > min_headway ? bands[b].headway : min_headway;
    if (h <= 0) continue; /* a band without a headway runs nothing */
    for (int t = bands[b].start; t < bands[b].end && n < cap; t += h)
      if (n == 0 || t > out[n - 1]) out[n++] = t; /* no boundary time twice */
  }
  return n;
}

int sched_fallback_departures(bool weekend, int *out, int cap) {
  const sched_band *bands;
  int n = sched_fallback_bands(weekend, &bands);
  return sched_departures(bands, n, 0, out, cap);
}

static int dwell_at(const sched_rules *r, const sched_line *l, int station) {
  return l->station_lines[station] >= r->big_interchange_lines ? r->big_dwell_s : r->dwell_s;
}

void sched_stop_times(const sched_rules *r, const sched_line *l, bool inbound, int departure, int *arrival,
                      int *departure_out) {
  int n = l->n_stations;
  int dwell_total = 0;
  for (int k = 1; k < n - 1; k++) dwell_total += dwell_at(r, l, k);
  long running = (long)l->duration_min * 60 - dwell_total;
  if (running < 0) running = 0;
  int dwell_before = 0;
  for (int k = 0; k < n; k++) {
    int station = inbound ? n - 1 - k : k;
    int at = departure + (int)((long)k * running / (n - 1)) + dwell_before;
    bool terminus = k == 0 || k == n - 1;
    int dwell = terminus ? 0 : dwell_at(r, l, station);
    arrival[k] = k == 0 ? -1 : at;
    departure_out[k] = k == n - 1 ? -1 : at + dwell;
    dwell_before += dwell;
  }
}

static int cmp_trip(const void *a, const void *b) {
  const sched_trip *x = a, *y = b;
  if (x->departure != y->departure) return x->departure < y->departure ? -1 : 1;
  return (int)x->inbound - (int)y->inbound;
}

/* Where a train is: at terminus 0 (station 1) or 1 (station n), ready at `ready`. */
typedef struct train_slot {
  bool used;
  int terminus;
  int ready;
} train_slot;

int sched_generate(const sched_rules *r, const sched_line *l, const int *departures, int n_departures,
                   sched_trip *out, int cap, int *unassigned) {
  *unassigned = 0;
  if (l->n_stations < 2) return 0;
  int n = 0;
  for (int i = 0; i < n_departures && n + 2 <= cap; i++) {
    out[n++] = (sched_trip){.inbound = false, .departure = departures[i], .train = -1};
    out[n++] = (sched_trip){.inbound = true, .departure = departures[i], .train = -1};
  }
  qsort(out, (size_t)n, sizeof *out, cmp_trip);
  int *arr = malloc(sizeof(int) * (size_t)l->n_stations * 2);
  train_slot *trains = calloc((size_t)l->n_trains + 1, sizeof *trains);
  if (!arr || !trains) {
    free(arr);
    free(trains);
    *unassigned = n;
    return 0;
  }
  int *dep = arr + l->n_stations;
  for (int i = 0; i < n; i++) {
    sched_trip *t = &out[i];
    sched_stop_times(r, l, t->inbound, t->departure, arr, dep);
    t->arrival = arr[l->n_stations - 1];
    int from = t->inbound ? 1 : 0, pick = -1;
    for (int k = 0; k < l->n_trains; k++) {
      const train_slot *s = &trains[k];
      if (s->used && s->terminus == from && s->ready <= t->departure && (pick < 0 || s->ready < trains[pick].ready))
        pick = k;
    }
    for (int k = 0; pick < 0 && k < l->n_trains; k++)
      if (!trains[k].used) pick = k;
    if (pick < 0) {
      (*unassigned)++;
      continue;
    }
    t->train = pick;
    trains[pick] = (train_slot){.used = true, .terminus = 1 - from, .ready = t->arrival + r->turnaround_s};
  }
  free(trains);
  free(arr);
  return n;
}

bool sched_day_build(const sched_rules *r, const sched_line *l, const sched_band *bands, int n_bands,
                     sched_day *out) {
  memset(out, 0, sizeof *out);
  out->n_stations = l->n_stations;
  out->fleet_headway = sched_fleet_headway(l->duration_min, r->turnaround_s, l->n_trains);
  if (l->n_trains <= 0 || l->n_stations < 2) return true; /* NO_ACTIVE_TRAINS: no trips */
  int *deps = malloc(sizeof(int) * SCHED_MAX_DEPARTURES);
  out->trips = malloc(sizeof(sched_trip) * 2 * SCHED_MAX_DEPARTURES);
  if (!deps || !out->trips) {
    free(deps);
    sched_day_free(out);
    return false;
  }
  int n_deps = sched_departures(bands, n_bands, out->fleet_headway, deps, SCHED_MAX_DEPARTURES);
  out->n_trips = sched_generate(r, l, deps, n_deps, out->trips, 2 * SCHED_MAX_DEPARTURES, &out->unassigned);
  free(deps);
  out->times = malloc(sizeof(int) * 2 * (size_t)l->n_stations * (size_t)(out->n_trips ? out->n_trips : 1));
  int *arr = malloc(sizeof(int) * 2 * (size_t)l->n_stations);
  if (!out->times || !arr || (n_deps > 0 && out->n_trips == 0)) {
    free(arr);
    sched_day_free(out);
    return false;
  }
  int *dep = arr + l->n_stations;
  for (int i = 0; i < out->n_trips; i++) {
    sched_stop_times(r, l, out->trips[i].inbound, out->trips[i].departure, arr, dep);
    int *row = out->times + (size_t)i * 2 * (size_t)l->n_stations;
    for (int k = 0; k < l->n_stations; k++) {
      row[2 * k] = arr[k];
      row[2 * k + 1] = dep[k];
    }
  }
  free(arr);
  return true;
}

void sched_day_free(sched_day *d) {
  free(d->trips);
  free(d->times);
  d->trips = NULL;
  d->times = NULL;
  d->n_trips = 0;
}
