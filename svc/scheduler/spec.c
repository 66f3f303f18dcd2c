/* Schedule specs ("every 5m", "hourly :00", "daily 08:00") on the Asia/Ho_Chi_Minh wall clock
 * (UTC+7, no daylight saving) and the slots they name: pure integer arithmetic on Unix seconds. */
#include <stddef.h>
#include <string.h>

#include "svc/scheduler/scheduler.h"

/* Reads exactly `width` digits (width 0: one or two) at *p; -1 when there are none. */
static int read_number(const char **p, int width) {
  int v = 0, n = 0;
  while ((**p >= '0' && **p <= '9') && (width ? n < width : n < 2)) {
    v = v * 10 + (**p - '0');
    (*p)++;
    n++;
  }
  if (n == 0 || (width && n != width)) return -1;
  return v;
}

static bool skip(const char **p, const char *lit) {
  size_t n = strlen(lit);
  if (strncmp(*p, lit, n) != 0) return false;
  *p += n;
  return true;
}

bool sch_spec_parse(const char *text, sch_spec *out) {
  if (!text) return false;
  const char *p = text;
  sch_spec s = {0};
  if (skip(&p, "every ")) {
    s.kind = SCH_EVERY;
    if (*p == '0') return false;
    s.every_min = read_number(&p, 0);
    if (s.every_min < 1 || s.every_min > 60 || !skip(&p, "m")) return false;
  } else if (skip(&p, "hourly :")) {
    s.kind = SCH_HOURLY;
    s.minute = read_number(&p, 2);
    if (s.minute < 0 || s.minute > 59) return false;
  } else if (skip(&p, "daily ")) {
    s.kind = SCH_DAILY;
    s.hour = read_number(&p, 2);
    if (s.hour < 0 || s.hour > 23 || !skip(&p, ":")) return false;
    s.minute = read_number(&p, 2);
    if (s.minute < 0 || s.minute > 59) return false;
  } else {
    return false;
  }
  if (*p) return false;
  *out = s;
  return true;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* The cycle (an hour or a day of local time) and the step between slots inside it; the
 * first slot of a cycle is at `first` seconds into it, the others every `step` after it. */
static void cycle_of(const sch_spec *s, int64_t *cycle, int64_t *first, int64_t *step) {
  if (s->kind == SCH_DAILY) {
    *cycle = *step = 86400;
    *first = (int64_t)s->hour * 3600 + (int64_t)s->minute * 60;
  } else if (s->kind == SCH_HOURLY) {
    *cycle = *step = 3600;
    *first = (int64_t)s->minute * 60;
  } else {
    *cycle = 3600;
    *first = 0;
    *step = (int64_t)s->every_min * 60;
  }
}

/* The latest slot at or before local time l (seconds since the local epoch). */
static int64_t prev_local(const sch_spec *s, int64_t l) {
  int64_t cycle, first, step;
  cycle_of(s, &cycle, &first, &step);
  int64_t start = floor_div(l, cycle) * cycle, pos = l - start;
  if (pos < first) { /* before this cycle's first slot: the last slot of the previous cycle */
    start -= cycle;
    pos = cycle - 1;
  }
  return start + first + (pos - first) / step * step;
}

int64_t sch_prev_run(const char *spec, int64_t at_unix) {
  sch_spec s;
  if (!sch_spec_parse(spec, &s)) return -1;
  return prev_local(&s, at_unix + SCH_TZ_OFFSET_S) - SCH_TZ_OFFSET_S;
}

int64_t sch_next_run(const char *spec, int64_t after_unix) {
  sch_spec s;
  if (!sch_spec_parse(spec, &s)) return -1;
  int64_t cycle, first, step;
  cycle_of(&s, &cycle, &first, &step);
  int64_t prev = prev_local(&s, after_unix + SCH_TZ_OFFSET_S);
  /* One step on, unless that leaves the cycle (an "every" step that does not divide the hour:
   * every 7m ends an hour at :56 and starts the next one at :00). */
  int64_t next = prev + step, cycle_next = floor_div(prev, cycle) * cycle + cycle + first;
  return (next < cycle_next ? next : cycle_next) - SCH_TZ_OFFSET_S;
}
