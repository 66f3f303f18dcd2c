/* Report periods in Asia/Ho_Chi_Minh (UTC+7, no daylight saving): calendar dates, local days,
 * ISO weeks, months, their labels and the next run of a schedule. Pure: every instant is a parameter. */
#include "svc/report/report.h"

#include <string.h>

#define DAY_S 86400

/* Division rounding toward minus infinity (b > 0). */
static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }

/* Proleptic Gregorian calendar <-> days since 1970-01-01 (eras of 400 years, March-based years). */
static int32_t days_from_civil(int y, int m, int d) {
  int64_t yy = (int64_t)y - (m <= 2);
  int64_t era = floor_div(yy, 400);
  int64_t yoe = yy - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (int32_t)(era * 146097 + doe - 719468);
}

static void civil_from_days(int32_t day, int *y, int *m, int *d) {
  int64_t z = (int64_t)day + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_length(int y, int m) {
  static const int LENGTHS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return LENGTHS[m - 1] + (m == 2 && is_leap(y));
}

/* n decimal digits of s as a number; -1 when one of them is not a digit. */
static int parse_digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* Writes v as exactly n digits (zero-padded, the highest ones dropped if it is longer). */
static void put_digits(char *out, int n, int v) {
  unsigned u = v < 0 ? 0u : (unsigned)v;
  for (int i = n - 1; i >= 0; i--, u /= 10) out[i] = (char)('0' + u % 10);
}

bool rp_date_parse(const char *s, int32_t *day) {
  if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
  int y = parse_digits(s, 4), m = parse_digits(s + 5, 2), d = parse_digits(s + 8, 2);
  if (y < RP_MIN_YEAR || y > RP_MAX_YEAR || m < 1 || m > 12 || d < 1 || d > month_length(y, m)) return false;
  *day = days_from_civil(y, m, d);
  return true;
}

void rp_date_format(int32_t day, char out[11]) {
  int y, m, d;
  civil_from_days(day, &y, &m, &d);
  put_digits(out, 4, y);
  out[4] = '-';
  put_digits(out + 5, 2, m);
  out[7] = '-';
  put_digits(out + 8, 2, d);
  out[10] = '\0';
}

int32_t rp_local_day(int64_t unix_s) {
  /* Split first so that adding the offset cannot overflow near INT64_MAX. */
  int64_t q = floor_div(unix_s, DAY_S);
  int64_t r = unix_s - q * DAY_S + RP_TZ_OFFSET_S;
  return (int32_t)(q + r / DAY_S);
}

int rp_weekday(int32_t day) {
  /* 1970-01-01 was a Thursday: day 0 -> 4. */
  int64_t shifted = (int64_t)day + 3;
  return (int)(shifted - floor_div(shifted, 7) * 7) + 1;
}

void rp_iso_week(int32_t day, int *iso_year, int *week) {
  /* A week belongs to the year holding its Thursday. */
  int32_t thursday = day - (rp_weekday(day) - 1) + 3;
  int y, m, d;
  civil_from_days(thursday, &y, &m, &d);
  *iso_year = y;
  *week = (thursday - days_from_civil(y, 1, 1)) / 7 + 1;
}

static const struct {
  rp_period_kind kind;
  const char *name;
} KIND_NAMES[] = {
    {RP_DAILY, "daily"},
    {RP_WEEKLY, "weekly"},
    {RP_MONTHLY, "monthly"},
    {RP_CUSTOM, "custom"},
};

bool rp_period_kind_parse(const char *s, bool allow_custom, rp_period_kind *kind) {
  if (!s) return false;
  for (size_t i = 0; i < sizeof KIND_NAMES / sizeof KIND_NAMES[0]; i++) {
    if (strcmp(KIND_NAMES[i].name, s) != 0) continue;
    if (KIND_NAMES[i].kind == RP_CUSTOM && !allow_custom) return false;
    *kind = KIND_NAMES[i].kind;
    return true;
  }
  return false;
}

const char *rp_period_kind_name(rp_period_kind kind) {
  for (size_t i = 0; i < sizeof KIND_NAMES / sizeof KIND_NAMES[0]; i++)
    if (KIND_NAMES[i].kind == kind) return KIND_NAMES[i].name;
  return "unknown";
}

static rp_period make_period(rp_period_kind kind, int32_t first_day, int32_t last_day) {
  rp_period p = {.kind = kind, .first_day = first_day, .last_day = last_day};
  p.start_unix = (int64_t)first_day * DAY_S - RP_TZ_OFFSET_S;
  p.end_unix = ((int64_t)last_day + 1) * DAY_S - RP_TZ_OFFSET_S;
  return p;
}

rp_period rp_period_containing(rp_period_kind kind, int32_t day) {
  switch (kind) {
  case RP_WEEKLY: {
    int32_t monday = day - (rp_weekday(day) - 1);
    return make_period(RP_WEEKLY, monday, monday + 6);
  }
  case RP_MONTHLY: {
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    int32_t first = days_from_civil(y, m, 1);
    return make_period(RP_MONTHLY, first, first + month_length(y, m) - 1);
  }
  default: /* a custom period has no natural boundaries: the day alone */
    return make_period(RP_DAILY, day, day);
  }
}

bool rp_period_custom(int32_t first_day, int32_t last_day, int32_t max_days, rp_period *out) {
  if (last_day < first_day || (int64_t)last_day - first_day + 1 > max_days) return false;
  *out = make_period(RP_CUSTOM, first_day, last_day);
  return true;
}

rp_period rp_period_previous(rp_period_kind kind, int64_t now_unix) {
  rp_period current = rp_period_containing(kind, rp_local_day(now_unix));
  return rp_period_containing(kind, current.first_day - 1);
}

bool rp_period_holds(const rp_period *p, int64_t unix_s) { return p->start_unix <= unix_s && unix_s < p->end_unix; }

char *rp_period_label(arena *a, const rp_period *p) {
  char first[11], last[11];
  rp_date_format(p->first_day, first);
  switch (p->kind) {
  case RP_DAILY:
    return arena_strdup(a, first);
  case RP_WEEKLY: {
    int iso_year, week;
    rp_iso_week(p->first_day, &iso_year, &week);
    return arena_printf(a, "%04d-W%02d", iso_year, week);
  }
  case RP_MONTHLY:
    return arena_strndup(a, first, 7);
  default:
    rp_date_format(p->last_day, last);
    return arena_printf(a, "%s..%s", first, last);
  }
}

int rp_run_at_parse(const char *s) {
  if (!s || strlen(s) != 5 || s[2] != ':') return -1;
  int h = parse_digits(s, 2), m = parse_digits(s + 3, 2);
  if (h < 0 || h > 23 || m < 0 || m > 59) return -1;
  return h * 60 + m;
}

int64_t rp_next_run(rp_period_kind frequency, int run_at_minutes, int64_t after_unix) {
  if (run_at_minutes < 0) run_at_minutes = 0;
  if (run_at_minutes > 24 * 60 - 1) run_at_minutes = 24 * 60 - 1;
  int64_t offset = (int64_t)run_at_minutes * 60;
  rp_period p = rp_period_containing(frequency, rp_local_day(after_unix));
  if (p.start_unix + offset > after_unix) return p.start_unix + offset;
  /* The next period starts after `after_unix`, so its run is later still. */
  return rp_period_containing(frequency, p.last_day + 1).start_unix + offset;
}
