/* The business calendar of the public service (domain spec §0): days and clock times are
 * local to Asia/Ho_Chi_Minh, which is UTC+7 all year. */
#include <stdio.h>
#include <time.h>

#include "svc/public/public.h"

void pub_local_now(long *day, int *seconds) {
  int64_t t = (int64_t)time(NULL) + PUB_LOCAL_UTC_OFFSET_S;
  *day = (long)(t / 86400);
  *seconds = (int)(t % 86400);
}

void pub_day_format(long day, char *out) {
  time_t t = (time_t)day * 86400;
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
           (unsigned)tm.tm_mday % 100u);
}
