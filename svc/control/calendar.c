/* Local dates and clock times for the control service: Asia/Ho_Chi_Minh is UTC+7 all year, so
 * service dates, hours of entry and day types are plain arithmetic on days since 1970-01-01. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "svc/control/control.h"

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d) {
  z += 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool ct_parse_day(const char *s, long *day) {
  int y, m, d;
  if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
      !digits(s + 8, 2, &d))
    return false;
  static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > month_days[m - 1]) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m == 2 && d == 29 && !leap) return false;
  *day = days_from_civil(y, m, d);
  return true;
}

char *ct_format_day(arena *a, long day) {
  int y, m, d;
  civil_from_days(day, &y, &m, &d);
  return arena_printf(a, "%04d-%02d-%02d", y, m, d);
}

long ct_today(void) { return (long)((time(NULL) + CT_LOCAL_UTC_OFFSET_S) / 86400); }

void ct_local_day_hour(int64_t utc_us, long *day, int *hour) {
  int64_t s = utc_us / 1000000 + CT_LOCAL_UTC_OFFSET_S;
  if (utc_us < 0 && utc_us % 1000000) s--;
  int64_t d = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
  *day = (long)d;
  *hour = (int)((s - d * 86400) / 3600);
}

int ct_day_type(long day, bool holiday) { return holiday ? CT_HOLIDAY : sched_weekday(day); }

const char *ct_day_type_name(int day_type) {
  static const char *const names[] = {"monday", "tuesday", "wednesday", "thursday",
                                      "friday", "saturday", "sunday",   "holiday"};
  return day_type >= 0 && day_type <= CT_HOLIDAY ? names[day_type] : "";
}

char *ct_format_clock(arena *a, int seconds) {
  if (seconds < 0) return arena_strdup(a, "");
  return arena_printf(a, "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

char *ct_format_hhmm(arena *a, int seconds) { return arena_printf(a, "%02d:%02d", seconds / 3600, seconds / 60 % 60); }
