/* Line operation rules (domain spec §3 fleet, §16 trip generation): fallback headway
 * bands per day type, stop timing from the line's duration and dwells, and the
 * earliest-ready train assignment with turnaround at the termini. */
#include "svc/transport/schedule.h"

#include <stdlib.h>
#include <string.h>

const sched_rules sched_default_rules = {.dwell_s = 40, .big_dwell_s = 75, .big_interchange_lines = 3,
                                         .turnaround_s = 600};

void sched_fleet(int duration_min, int *active, int *maintenance) {
  /* ceil(2.4 x (D x 60 + 600) / 180) = ceil(24 x (D x 60 + 600) / 1800), in integers. */
  long cycle = (long)duration_min * 60 + 600;
  *active = (int)((24 * cycle + 1799) / 1800);
  *maintenance = (*active + 4) / 5;
}

bool sched_is_express(int duration_min) { return duration_min >= 60; }
int sched_capacity(bool express) { return express ? 1300 : 900; }

bool sched_is_weekend(long days) {
  long wd = ((days % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday; 0 = Monday */
  return wd >= 5;
}

typedef struct band {
  int start, end, headway;
} band;

#define HM(h, m) ((h) * 3600 + (m) * 60)

static const band weekday_bands[] = {
    {HM(5, 0), HM(6, 30), 480},  {HM(6, 30), HM(8, 30), 180}, {HM(8, 30), HM(17, 0), 360},
    {HM(17, 0), HM(19, 30), 180}, {HM(19, 30), HM(23, 0), 420},
};
static const band weekend_bands[] = {
    {HM(5, 0), HM(8, 0), 540}, {HM(8, 0), HM(17, 0), 480}, {HM(17, 0), HM(20, 0), 420}, {HM(20, 0), HM(23, 0), 600},
};

int sched_fallback_departures(bool weekend, int *out, int cap) {
  const band *bands = weekend ? weekend_bands : weekday_bands;
  int n_bands = weekend ? (int)(sizeof weekend_bands / sizeof *weekend_bands)
                        : (int)(sizeof weekday_bands / sizeof *weekday_bands);
  int n = 0;
  for (int b = 0; b < n_bands; b++)
    for (int t = bands[b].start; t < bands[b].end && n < cap; t += bands[b].headway)
      if (n == 0 || t > out[n - 1]) out[n++] = t; /* no boundary time twice */
  return n;
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
  int *dep = arr + l->n_stations;
  train_slot *trains = calloc((size_t)l->n_trains + 1, sizeof *trains);
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
