/* Service patterns of the consumer GTFS feed (see gtfs_calendar.h): weekday flags chosen per
 * weekday by majority, exceptions for the dates that disagree, and names from the flags. */
#include "svc/transport/gtfs_calendar.h"

#include <stdio.h>
#include <string.h>

#include "svc/control/generator/schedule.h"

void gtfs_service_pattern(long window_first, uint32_t mask, gtfs_service_days *out) {
  memset(out, 0, sizeof *out);
  int lo = -1, hi = -1;
  for (int i = 0; i < GTFS_MAX_WINDOW; i++)
    if (mask & (UINT32_C(1) << i)) {
      if (lo < 0) lo = i;
      hi = i;
    }
  if (lo < 0) return;
  out->first = window_first + lo;
  out->last = window_first + hi;
  int in[7] = {0}, outside[7] = {0};
  for (int i = lo; i <= hi; i++) {
    int w = sched_weekday(window_first + i);
    if (mask & (UINT32_C(1) << i))
      in[w]++;
    else
      outside[w]++;
  }
  for (int w = 0; w < 7; w++) out->weekdays[w] = in[w] > 0 && in[w] >= outside[w];
  for (int i = lo; i <= hi; i++) {
    long day = window_first + i;
    bool runs = mask & (UINT32_C(1) << i), flagged = out->weekdays[sched_weekday(day)];
    if (runs && !flagged) out->added[out->n_added++] = day;
    if (!runs && flagged) out->removed[out->n_removed++] = day;
  }
}

const char *gtfs_service_base_name(const bool weekdays[7], char *buf, size_t cap) {
  static const char *const days[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  static const struct {
    const char *name;
    bool flags[7];
  } named[] = {{"weekdays", {1, 1, 1, 1, 1, 0, 0}},
               {"weekends", {0, 0, 0, 0, 0, 1, 1}},
               {"daily", {1, 1, 1, 1, 1, 1, 1}}};
  for (size_t k = 0; k < sizeof named / sizeof *named; k++)
    if (memcmp(named[k].flags, weekdays, sizeof named[k].flags) == 0) {
      snprintf(buf, cap, "%s", named[k].name);
      return buf;
    }
  size_t len = 0;
  buf[0] = '\0';
  for (int w = 0; w < 7; w++)
    if (weekdays[w] && len + 5 < cap) len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? "-" : "", days[w]);
  if (!len) snprintf(buf, cap, "dates");
  return buf;
}
