/* The services of the consumer GTFS feed (gtfs.c): the set of dates a trip runs on, within a
 * window of at most 32 days, as one calendar.txt row (weekday flags from its first to its last
 * date) plus the fewest calendar_dates.txt exceptions, and a readable service id. Pure code. */
#ifndef METRO_TRANSPORT_GTFS_CALENDAR_H
#define METRO_TRANSPORT_GTFS_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GTFS_MAX_WINDOW 32 /* days: the date sets are 32-bit masks */

typedef struct gtfs_service_days {
  long first, last;               /* days since 1970-01-01: the set's first and last date */
  bool weekdays[7];               /* Monday first: calendar.txt's flags */
  long added[GTFS_MAX_WINDOW];    /* calendar_dates.txt exception_type 1, ascending */
  int n_added;
  long removed[GTFS_MAX_WINDOW];  /* exception_type 2, ascending */
  int n_removed;
} gtfs_service_days;

/* The dates window_first + i for each bit i of mask (mask != 0). Each weekday's flag is the one
 * needing fewer exceptions between first and last: set when the set holds at least as many of
 * that weekday's dates as it leaves out. */
void gtfs_service_pattern(long window_first, uint32_t mask, gtfs_service_days *out);

/* The id of a service from its flags: "weekdays" (Monday-Friday), "weekends", "daily", else the
 * flagged days joined ("mon-wed-sat"), or "dates" when none is flagged. Written into buf. */
const char *gtfs_service_base_name(const bool weekdays[7], char *buf, size_t cap);

#endif
