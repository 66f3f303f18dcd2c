/* Gives freed heap memory back to the system now and then: glibc keeps what a burst of requests
 * freed in its per-thread arenas, so a process's RSS stays at its high-water mark without this. */
#ifndef METRO_HEAP_TRIM_H
#define METRO_HEAP_TRIM_H

#include <stdint.h>

/* Calls malloc_trim every period_ms on a thread of its own (period_ms <= 0: never). */
void heap_trim_start(int64_t period_ms);
void heap_trim_stop(void);

#endif
