/* Field rules of the network (domain spec §3) and the text formats the transport API
 * speaks: slugs, clock times past midnight, service dates and page tokens. Each check
 * names the field it rejects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/text.h"
#include "svc/transport/transport.h"

/* The Ho Chi Minh City region (with the neighbouring Bình Dương and Long An termini). */
#define LAT_MIN 10.0
#define LAT_MAX 11.5
#define LON_MIN 106.0
#define LON_MAX 107.5

/* ---- slugs ---- */

/* Base letters of U+00C0..U+00FF; '-' = not a letter we transliterate. */
static const char latin1_base[] = "aaaaaa-ceeeeiiiidnooooo-ouuuuy--aaaaaa-ceeeeiiiidnooooo-ouuuuy-y";

/* Vietnamese letters in U+1EA0..U+1EF9 come in runs of one base letter. */
static const struct {
  unsigned first, last;
  char base;
} vietnamese_runs[] = {{0x1EA0, 0x1EB7, 'a'}, {0x1EB8, 0x1EC7, 'e'}, {0x1EC8, 0x1ECB, 'i'},
                       {0x1ECC, 0x1EE3, 'o'}, {0x1EE4, 0x1EF1, 'u'}, {0x1EF2, 0x1EF9, 'y'}};

/* The ASCII letter a code point stands for, 0 for a combining mark (dropped), '-' otherwise. */
static char base_letter(unsigned cp) {
  if (cp < 0x80) {
    char c = (char)cp;
    if (c >= 'A' && c <= 'Z') return (char)(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return c;
    return '-';
  }
  if (cp >= 0x300 && cp <= 0x36F) return 0;
  if (cp >= 0xC0 && cp <= 0xFF) return latin1_base[cp - 0xC0];
  switch (cp) {
    case 0x100: case 0x101: case 0x102: case 0x103: case 0x104: case 0x105: return 'a';
    case 0x110: case 0x111: return 'd';
    case 0x128: case 0x129: return 'i';
    case 0x168: case 0x169: return 'u';
    case 0x1A0: case 0x1A1: return 'o';
    case 0x1AF: case 0x1B0: return 'u';
    default: break;
  }
  for (size_t i = 0; i < sizeof vietnamese_runs / sizeof *vietnamese_runs; i++)
    if (cp >= vietnamese_runs[i].first && cp <= vietnamese_runs[i].last) return vietnamese_runs[i].base;
  return '-';
}

/* Decodes one UTF-8 sequence; returns its length, 0 when invalid. */
static int utf8_next(const unsigned char *s, unsigned *cp) {
  if (s[0] < 0x80) return *cp = s[0], 1;
  int n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (!n) return 0;
  unsigned v = s[0] & (0x7F >> n);
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  *cp = v;
  return n;
}

bool tr_slugify(const char *name, char *out, size_t cap) {
  if (!name || cap < 2 || text_utf8_length(name) < 0) return false;
  size_t n = 0;
  bool dash = false;
  for (const unsigned char *p = (const unsigned char *)name; *p;) {
    unsigned cp;
    int len = utf8_next(p, &cp);
    if (!len) return false;
    p += len;
    char c = base_letter(cp);
    if (!c) continue;
    if (c == '-') {
      dash = n > 0;
      continue;
    }
    if (n + (dash ? 2 : 1) >= cap) return false;
    if (dash) out[n++] = '-';
    dash = false;
    out[n++] = c;
  }
  out[n] = '\0';
  return n > 0;
}

bool tr_valid_slug(const char *s, size_t max_len) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > max_len || s[0] == '-' || s[n - 1] == '-') return false;
  for (size_t i = 0; i < n; i++) {
    bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
    if (!alnum && !(s[i] == '-' && s[i + 1] != '-')) return false;
  }
  return true;
}

bool tr_valid_color(const char *s) {
  return !s || !*s || (strlen(s) == 6 && text_only_chars(s, "0123456789ABCDEFabcdef"));
}

/* ---- clock times and dates ---- */

static int two_digits(const char *s) {
  return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

int tr_parse_hhmm(const char *s) {
  if (!s || strlen(s) != 5 || s[2] != ':') return -1;
  int h = two_digits(s), m = two_digits(s + 3);
  return h < 0 || h > 23 || m < 0 || m > 59 ? -1 : h * 60 + m;
}

int tr_parse_clock(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if ((n != 5 && n != 8) || s[2] != ':' || (n == 8 && s[5] != ':')) return -1;
  int h = two_digits(s), m = two_digits(s + 3), sec = n == 8 ? two_digits(s + 6) : 0;
  if (h < 0 || h > 47 || m < 0 || m > 59 || sec < 0 || sec > 59) return -1;
  return h * 3600 + m * 60 + sec;
}

char *tr_format_clock(arena *a, int seconds) {
  if (seconds < 0) return arena_strdup(a, "");
  return arena_printf(a, "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

bool tr_parse_day(const char *s, long *day) { return s && text_parse_date(s, day); }

char *tr_format_day(arena *a, long day) {
  time_t t = (time_t)day * 86400;
  struct tm tm;
  gmtime_r(&t, &tm);
  return arena_printf(a, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

long tr_today(void) { return (long)((time(NULL) + TR_LOCAL_UTC_OFFSET_S) / 86400); }

/* ---- field rules ---- */

static const char *field(rpc_ctx *ctx, const char *prefix, const char *name) {
  return prefix && *prefix ? arena_printf(ctx->arena, "%s.%s", prefix, name) : name;
}

static bool one_of(const char *v, const char *const *allowed) {
  for (; v && *allowed; allowed++)
    if (strcmp(v, *allowed) == 0) return true;
  return false;
}

static rpc_status check_name(rpc_ctx *ctx, const char *f, const char *name) {
  if (!name || !*name) return rpc_invalid(ctx->arena, f, "FIELD_REQUIRED", "%s is required", f);
  long n = text_utf8_length(name);
  if (n < 2 || n > 100 || text_has_control(name) || name[0] == ' ' || name[strlen(name) - 1] == ' ')
    return rpc_invalid(ctx->arena, f, "INVALID_NAME", "%s must be 2-100 characters without surrounding spaces", f);
  return RPC_OK;
}

rpc_status tr_require_id(rpc_ctx *ctx, const char *f, const char *value) {
  if (!value || !*value) return rpc_invalid(ctx->arena, f, "FIELD_REQUIRED", "%s is required", f);
  if (strlen(value) > 100) return rpc_invalid(ctx->arena, f, "INVALID_ID", "%s is too long", f);
  return RPC_OK;
}

rpc_status tr_validate_station(rpc_ctx *ctx, const char *prefix, const Metro__Transport__V1__Station *s) {
  rpc_status st;
  if (!tr_valid_slug(s->station_id, 64))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "stationId"), "INVALID_SLUG",
                       "%s must be a slug: a-z, 0-9 and single '-' between them, at most 64 characters",
                       field(ctx, prefix, "stationId"));
  if (!rpc_ok(st = check_name(ctx, field(ctx, prefix, "name"), s->name))) return st;
  if (!s->location)
    return rpc_invalid(ctx->arena, field(ctx, prefix, "location"), "FIELD_REQUIRED", "%s is required",
                       field(ctx, prefix, "location"));
  double lat = s->location->latitude, lon = s->location->longitude;
  if (!(lat >= LAT_MIN && lat <= LAT_MAX))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "location.latitude"), "INVALID_LOCATION",
                       "latitude must be within %.1f..%.1f (the Ho Chi Minh City region)", LAT_MIN, LAT_MAX);
  if (!(lon >= LON_MIN && lon <= LON_MAX))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "location.longitude"), "INVALID_LOCATION",
                       "longitude must be within %.1f..%.1f (the Ho Chi Minh City region)", LON_MIN, LON_MAX);
  int open = tr_parse_hhmm(s->open_time), close = tr_parse_hhmm(s->close_time);
  if (open < 0)
    return rpc_invalid(ctx->arena, field(ctx, prefix, "openTime"), "INVALID_TIME", "%s must be HH:MM",
                       field(ctx, prefix, "openTime"));
  if (close < 0 || close <= open)
    return rpc_invalid(ctx->arena, field(ctx, prefix, "closeTime"), "INVALID_TIME",
                       "%s must be HH:MM after the opening time", field(ctx, prefix, "closeTime"));
  return RPC_OK;
}

rpc_status tr_validate_line(rpc_ctx *ctx, const char *prefix, const Metro__Transport__V1__Line *l) {
  static const char *const statuses[] = {"operational", "planned", NULL};
  rpc_status st;
  if (!tr_valid_slug(l->route_id, 100))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "routeId"), "INVALID_SLUG",
                       "%s must be a slug: a-z, 0-9 and single '-' between them, at most 100 characters",
                       field(ctx, prefix, "routeId"));
  size_t code_len = l->code ? strlen(l->code) : 0;
  if (code_len < 1 || code_len > 10 ||
      !text_only_chars(l->code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "code"), "INVALID_CODE", "%s must be 1-10 letters or digits",
                       field(ctx, prefix, "code"));
  if (!rpc_ok(st = check_name(ctx, field(ctx, prefix, "name"), l->name))) return st;
  if (!(l->length_km > 0 && l->length_km <= 1000))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "lengthKm"), "INVALID_LENGTH", "%s must be in (0, 1000]",
                       field(ctx, prefix, "lengthKm"));
  if (l->duration_min < 1 || l->duration_min > 600)
    return rpc_invalid(ctx->arena, field(ctx, prefix, "durationMin"), "INVALID_DURATION", "%s must be 1-600",
                       field(ctx, prefix, "durationMin"));
  if (!one_of(l->status, statuses))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "status"), "INVALID_STATUS",
                       "%s must be operational or planned", field(ctx, prefix, "status"));
  if (l->base_price < 0 || l->base_price > 10000000)
    return rpc_invalid(ctx->arena, field(ctx, prefix, "basePrice"), "INVALID_PRICE",
                       "%s must be 0-10,000,000 VND", field(ctx, prefix, "basePrice"));
  if (!tr_valid_color(l->color))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "color"), "INVALID_COLOR",
                       "%s must be six hex digits (RRGGBB) or empty", field(ctx, prefix, "color"));
  if (!tr_valid_color(l->text_color))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "textColor"), "INVALID_COLOR",
                       "%s must be six hex digits (RRGGBB) or empty", field(ctx, prefix, "textColor"));
  return RPC_OK;
}

rpc_status tr_validate_train(rpc_ctx *ctx, const char *prefix, const Metro__Transport__V1__Train *t) {
  static const char *const types[] = {"standard", "express", NULL};
  static const char *const statuses[] = {"active", "maintenance", "out_of_service", NULL};
  const char *n = t->name ? t->name : "";
  bool name_ok = strlen(n) == 12 && strncmp(n, "Metro-", 6) == 0 && n[8] == '-' && two_digits(n + 6) >= 0 &&
                 text_only_chars(n + 9, "0123456789");
  if (!name_ok)
    return rpc_invalid(ctx->arena, field(ctx, prefix, "name"), "INVALID_TRAIN_NAME",
                       "%s must look like Metro-<NN>-<iii> (e.g. Metro-01-001)", field(ctx, prefix, "name"));
  if (!one_of(t->type, types))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "type"), "INVALID_TRAIN_TYPE", "%s must be standard or express",
                       field(ctx, prefix, "type"));
  if (t->capacity < 1 || t->capacity > 10000)
    return rpc_invalid(ctx->arena, field(ctx, prefix, "capacity"), "INVALID_CAPACITY", "%s must be 1-10000",
                       field(ctx, prefix, "capacity"));
  if (!tr_valid_slug(t->route_id, 100))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "routeId"), "FIELD_REQUIRED", "%s must name a line",
                       field(ctx, prefix, "routeId"));
  if (!one_of(t->status, statuses))
    return rpc_invalid(ctx->arena, field(ctx, prefix, "status"), "INVALID_TRAIN_STATUS",
                       "%s must be active, maintenance or out_of_service", field(ctx, prefix, "status"));
  return RPC_OK;
}

/* ---- page tokens: base64url("o<offset>") ---- */

rpc_status tr_page(rpc_ctx *ctx, int32_t page_size, const char *token, int def, int max, int *offset, int *limit) {
  if (page_size < 0) return rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must not be negative");
  *limit = page_size == 0 ? def : page_size > max ? max : page_size;
  *offset = 0;
  if (!token || !*token) return RPC_OK;
  char raw[32];
  size_t n = strlen(token), len = 0;
  long v = -1;
  if (n < 40 && b64_decode(B64_URL_NOPAD, token, n, raw, sizeof raw - 1, &len)) {
    raw[len] = '\0';
    char *end;
    if (raw[0] == 'o' && raw[1] >= '0' && raw[1] <= '9') v = strtol(raw + 1, &end, 10);
    if (v < 0 || *end || v > 10000000) v = -1;
  }
  if (v < 0) return rpc_invalid(ctx->arena, "pageToken", "INVALID_PAGE_TOKEN", "pageToken is not one this API issued");
  *offset = (int)v;
  return RPC_OK;
}

const char *tr_next_token(rpc_ctx *ctx, int offset, int limit, int got) {
  if (got < limit) return "";
  char raw[24], out[40];
  snprintf(raw, sizeof raw, "o%d", offset + got);
  if (!b64_encode(B64_URL_NOPAD, raw, strlen(raw), out, sizeof out)) return "";
  return arena_strdup(ctx->arena, out);
}
