/* How riders read what a message tells them (domain spec §14): amounts in dong, instants in
 * Ho Chi Minh City time and the Vietnamese names of ticket types. Pure; results in the arena. */
#include "svc/notification/notification.h"

#include <string.h>
#include <time.h>

#define NT_UTC_OFFSET_S (7 * 3600) /* Asia/Ho_Chi_Minh: UTC+7 all year */
#define NT_DONG_SIGN "\xe2\x82\xab" /* U+20AB */

typedef struct ticket_name {
  const char *type, *display;
} ticket_name;

static const ticket_name TICKET_NAMES[] = {
    {"oneway", "Vé một chiều"},      {"return", "Vé khứ hồi"},   {"day_pass", "Vé ngày"},
    {"weekly_pass", "Vé tuần"},      {"monthly_pass", "Vé tháng"}, {"yearly_pass", "Vé năm"},
    {"lifetime_pass", "Vé trọn đời"},
};

char *nt_format_vnd(arena *a, int64_t vnd) {
  /* The magnitude as unsigned, so INT64_MIN is fine too. */
  uint64_t v = vnd < 0 ? (uint64_t)0 - (uint64_t)vnd : (uint64_t)vnd;
  char digits[32], grouped[48];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  size_t o = 0;
  if (vnd < 0) grouped[o++] = '-';
  for (int i = n - 1; i >= 0; i--) {
    grouped[o++] = digits[i];
    if (i > 0 && i % 3 == 0) grouped[o++] = '.';
  }
  grouped[o] = '\0';
  return arena_printf(a, "%s " NT_DONG_SIGN, grouped);
}

char *nt_format_local_time(arena *a, int64_t unix_s) {
  struct tm tm;
  if (unix_s > INT64_MAX - NT_UTC_OFFSET_S) return arena_strdup(a, "");
  time_t t = (time_t)(unix_s + NT_UTC_OFFSET_S);
  if (!gmtime_r(&t, &tm)) return arena_strdup(a, "");
  return arena_printf(a, "%02d/%02d/%04d %02d:%02d", tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900, tm.tm_hour,
                      tm.tm_min);
}

static const char *ticket_type_name(const char *type) {
  for (size_t i = 0; i < sizeof TICKET_NAMES / sizeof TICKET_NAMES[0]; i++)
    if (strcmp(TICKET_NAMES[i].type, type) == 0) return TICKET_NAMES[i].display;
  return type;
}

char *nt_ticket_display(arena *a, const char *ticket_type, int passengers) {
  const char *name = ticket_type_name(ticket_type ? ticket_type : "");
  if (passengers > 1) return arena_printf(a, "%s (%d hành khách)", name, passengers);
  return arena_strdup(a, name);
}
