/* The scheduler's clocks: the wall clock slots are computed on (plus METRO_SCHEDULER_CLOCK_OFFSET_S
 * in tests), the monotonic clock leases are timed with, and a sleep a stop request cuts short. */
#include <time.h>

#include "svc/scheduler/scheduler.h"

int64_t sch_now_us(const sch_settings *s) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ((int64_t)ts.tv_sec + s->clock_offset_s) * 1000000 + ts.tv_nsec / 1000;
}

int64_t sch_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sch_sleep_ms(int64_t ms, const atomic_bool *stop) {
  int64_t until = sch_mono_ms() + ms;
  for (int64_t left = ms; left > 0 && !(stop && atomic_load(stop)); left = until - sch_mono_ms()) {
    int64_t slice = left < 50 ? left : 50;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(slice * 1000000)};
    nanosleep(&ts, NULL);
  }
}
