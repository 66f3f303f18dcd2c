/* Text checks on untrusted input (see text.h): a strict UTF-8 decoder and a code point
 * count on top of it, control-character and charset tests, and calendar date parsing. */
#include "common/text.h"

#include <string.h>

size_t text_utf8_decode(const char *p, unsigned *cp) {
  const unsigned char *u = (const unsigned char *)p;
  unsigned c = u[0], value, min;
  size_t n;
  if (c < 0x80) {
    if (cp) *cp = c;
    return 1;
  }
  if ((c & 0xe0) == 0xc0) {
    n = 2, value = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, value = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, value = c & 0x07, min = 0x10000;
  } else {
    return 0; /* a continuation byte or 0xf8-0xff */
  }
  for (size_t i = 1; i < n; i++) {
    if ((u[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
    value = (value << 6) | (u[i] & 0x3f);
  }
  if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return 0;
  if (cp) *cp = value;
  return n;
}

long text_utf8_length(const char *s) {
  long count = 0;
  while (*s) {
    size_t n = text_utf8_decode(s, NULL);
    if (!n) return -1;
    s += n;
    count++;
  }
  return count;
}

bool text_has_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return true;
  return false;
}

bool text_only_chars(const char *s, const char *allowed) {
  for (; *s; s++)
    if (!strchr(allowed, *s)) return false;
  return true;
}

static long days_from_civil(long y, long m, long d) {
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool text_parse_date(const char *s, long *days) {
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
  long y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  long m = (s[5] - '0') * 10 + (s[6] - '0');
  long d = (s[8] - '0') * 10 + (s[9] - '0');
  static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > month_days[m - 1] + (m == 2 && leap)) return false;
  if (days) *days = days_from_civil(y, m, d);
  return true;
}
