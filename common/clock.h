/* The two clocks the runtime reads: monotonic for timeouts and intervals, realtime for
 * deadlines shared with gRPC and for timestamps; in milliseconds (and seconds for metrics). */
#ifndef METRO_CLOCK_H
#define METRO_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_real_ms(void);
double clock_mono_seconds(void);

#endif
