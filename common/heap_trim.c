/* heap_trim.h: a periodic thread calling malloc_trim(0), which releases the free pages inside
 * every arena (not only the top of the main heap) with madvise; it costs well under a millisecond. */
#include "common/heap_trim.h"

#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/periodic.h"

static periodic *trimmer;

static bool trim_round(periodic *p, void *arg) {
  (void)p, (void)arg;
  malloc_trim(0);
  return false; /* then sleep the period */
}

void heap_trim_start(int64_t period_ms) {
  if (period_ms > 0 && !trimmer) trimmer = periodic_start("heap-trim", 1, period_ms, trim_round, NULL);
}

void heap_trim_stop(void) {
  if (trimmer) periodic_stop(trimmer);
  trimmer = NULL;
}
