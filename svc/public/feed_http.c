/* The HTTP caching rules of the GTFS download (RFC 9110 §8.8, §13): a strong entity tag from
 * the bytes, HTTP dates written as IMF-fixdate and read in all three forms, and whether a
 * conditional GET is answered 304. Pure code. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/crypto.h"
#include "common/text.h"
#include "svc/public/public.h"

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void pub_etag(const void *data, size_t len, char out[PUB_ETAG_LEN]) {
  uint8_t digest[CRYPTO_SHA256_LEN];
  char hex[33];
  crypto_sha256(data, len, digest);
  crypto_hex(digest, 16, hex);
  snprintf(out, PUB_ETAG_LEN, "\"%s\"", hex);
}

void pub_http_date(int64_t unix_s, char out[PUB_HTTP_DATE_LEN]) {
  time_t t = (time_t)unix_s;
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, PUB_HTTP_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday % 7], tm.tm_mday,
           month_names[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int month_of(const char *name) {
  for (int m = 0; m < 12; m++)
    if (strcmp(name, month_names[m]) == 0) return m + 1;
  return 0;
}

/* Seconds since the epoch of a UTC date and time, false when it is no calendar date or time. */
static bool to_unix(int y, int mon, int d, int h, int mi, int s, int64_t *out) {
  char iso[48];
  long days;
  if (y < 1970 || y > 9999 || mon < 1 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
    return false;
  snprintf(iso, sizeof iso, "%04d-%02d-%02d", y, mon, d);
  if (!text_parse_date(iso, &days)) return false;
  *out = (int64_t)days * 86400 + h * 3600 + mi * 60 + (s > 59 ? 59 : s);
  return true;
}

bool pub_http_date_parse(const char *s, int64_t *unix_s) {
  char wd[10], mon[4];
  int d, y, h, mi, sec, n = -1;
  size_t len = s ? strlen(s) : 0;
  if (len == 0 || len > 40) return false;
  /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
  if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &h, &mi, &sec, &n) == 7 &&
      (size_t)n == len)
    return to_unix(y, month_of(mon), d, h, mi, sec, unix_s);
  /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (a two-digit year is 1970-2069) */
  n = -1;
  if (sscanf(s, "%9[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &h, &mi, &sec, &n) == 7 &&
      (size_t)n == len)
    return to_unix(y < 70 ? 2000 + y : 1900 + y, month_of(mon), d, h, mi, sec, unix_s);
  /* asctime: Sun Nov  6 08:49:37 1994 */
  n = -1;
  if (sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon, &d, &h, &mi, &sec, &y, &n) == 7 &&
      (size_t)n == len)
    return to_unix(y, month_of(mon), d, h, mi, sec, unix_s);
  return false;
}

bool pub_etag_listed(const char *field, const char *etag) {
  size_t want = strlen(etag);
  for (const char *p = field; p && *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) break;
    if (*p == '*') return true;
    if (strncmp(p, "W/", 2) == 0) p += 2; /* weak comparison: W/"x" matches "x" */
    if (*p != '"') return false;       /* not an entity-tag: the field is malformed */
    const char *close = strchr(p + 1, '"');
    if (!close) return false;
    size_t n = (size_t)(close - p) + 1;
    if (n == want && memcmp(p, etag, n) == 0) return true;
    p = close + 1;
  }
  return false;
}

bool pub_not_modified(const Metro__Api__V1__HttpRequest *req, const char *etag, int64_t last_modified) {
  bool conditional = false;
  for (size_t i = 0; i < req->n_headers; i++)
    if (strcasecmp(req->headers[i]->name, "if-none-match") == 0) {
      conditional = true;
      if (pub_etag_listed(req->headers[i]->value, etag)) return true;
    }
  if (conditional) return false; /* If-None-Match decides alone (§13.2.2) */
  const char *since = NULL;
  for (size_t i = 0; i < req->n_headers; i++)
    if (strcasecmp(req->headers[i]->name, "if-modified-since") == 0) {
      if (since) return false; /* more than one: ignored */
      since = req->headers[i]->value;
    }
  int64_t t;
  return since && pub_http_date_parse(since, &t) && last_modified <= t;
}
