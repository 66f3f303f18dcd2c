/* The demand forecast of spec §16, pure: the weighted mean of the same slot over the last 8
 * dates of the day type (8...1, newest heaviest), the holiday stand-in (Sunday x 0.6 until 3
 * samples), when a line has a model at all, and the band demand and headways it yields. */
#include <string.h>

#include "svc/control/control.h"

void ct_weighted_mean(const ct_hours *days, int n, ct_hours *out) {
  memset(out, 0, sizeof *out);
  if (n > CT_WEIGHTS) n = CT_WEIGHTS;
  double total = 0;
  for (int i = 0; i < n; i++) {
    double w = CT_WEIGHTS - i;
    total += w;
    for (int dir = 0; dir < 2; dir++)
      for (int h = 0; h < 24; h++) out->pax[dir][h] += w * days[i].pax[dir][h];
  }
  if (total <= 0) return;
  for (int dir = 0; dir < 2; dir++)
    for (int h = 0; h < 24; h++) out->pax[dir][h] /= total;
}

void ct_forecast_compute(const ct_forecast_input *in, ct_forecast *out) {
  memset(out, 0, sizeof *out);
  out->day_type = in->day_type;
  out->data_days = in->data_days;
  if (in->data_days < CT_MODEL_MIN_DAYS) return; /* no model yet: fallback */
  if (in->day_type == CT_HOLIDAY && in->n_samples < CT_HOLIDAY_MIN_SAMPLES) {
    if (in->n_sundays <= 0) return;
    ct_weighted_mean(in->sundays, in->n_sundays, &out->hours);
    for (int dir = 0; dir < 2; dir++)
      for (int h = 0; h < 24; h++) out->hours.pax[dir][h] *= CT_HOLIDAY_FACTOR;
    out->model = true;
    out->basis = CT_BASIS_SUNDAY;
    out->samples = in->n_sundays < CT_WEIGHTS ? in->n_sundays : CT_WEIGHTS;
    return;
  }
  if (in->n_samples <= 0) return; /* nothing of this day type: fallback */
  ct_weighted_mean(in->samples, in->n_samples, &out->hours);
  out->model = true;
  out->basis = CT_BASIS_DAY_TYPE;
  out->samples = in->n_samples < CT_WEIGHTS ? in->n_samples : CT_WEIGHTS;
}

double ct_band_demand(const ct_hours *h, int start_s, int end_s) {
  double d = 0;
  if (end_s <= start_s) return 0;
  int first = start_s / 3600, last = (end_s - 1) / 3600;
  for (int hour = first; hour <= last && hour < 24; hour++)
    for (int dir = 0; dir < 2; dir++)
      if (h->pax[dir][hour] > d) d = h->pax[dir][hour];
  return d;
}

void ct_model_bands(const ct_hours *h, int capacity, const sched_limits *lim, sched_band *bands, double *demand) {
  for (int b = 0; b < SCHED_N_SERVICE_BANDS; b++) {
    bands[b] = sched_service_bands[b];
    demand[b] = ct_band_demand(h, bands[b].start, bands[b].end);
    bands[b].headway = sched_headway(demand[b], capacity, lim);
  }
}
