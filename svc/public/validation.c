/* The public service's request rules: ids, dates, clock times, page tokens and quotes are
 * checked before anything else, because they become cache keys and transport or ticket requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/text.h"
#include "svc/public/public.h"

#define MAX_SLUG 64
#define MAX_FOREIGN_TOKEN 64

bool pub_is_slug(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > MAX_SLUG || s[0] == '-' || s[n - 1] == '-') return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && s[i + 1] != '-');
    if (!ok) return false;
  }
  return true;
}

rpc_status pub_check_id(rpc_ctx *ctx, const char *field, const char *value, const char *not_found_reason,
                        const char *what) {
  if (!value || !*value) return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required", field);
  if (!pub_is_slug(value)) {
    rpc_status st = rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, not_found_reason, "no %s has this id", what);
    st.field = field;
    return st;
  }
  return RPC_OK;
}

rpc_status pub_check_date(rpc_ctx *ctx, const char *field, const char *value, bool optional, long *day) {
  if (!value || !*value) {
    if (optional) return RPC_OK;
    return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required (YYYY-MM-DD)", field);
  }
  if (strlen(value) != 10 || !text_parse_date(value, day))
    return rpc_invalid(ctx->arena, field, "INVALID_DATE", "%s must be a date YYYY-MM-DD", field);
  return RPC_OK;
}

static int two_digits(const char *s) {
  return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

rpc_status pub_check_clock(rpc_ctx *ctx, const char *field, const char *value, int *seconds) {
  size_t n = strlen(value);
  int h = -1, m = -1, s = 0;
  if ((n == 5 || n == 8) && value[2] == ':') {
    h = two_digits(value);
    m = two_digits(value + 3);
    if (n == 8) s = value[5] == ':' ? two_digits(value + 6) : -1;
  }
  if (h < 0 || h > 47 || m < 0 || m > 59 || s < 0 || s > 59)
    return rpc_invalid(ctx->arena, field, "INVALID_TIME", "%s must be HH:MM or HH:MM:SS", field);
  *seconds = h * 3600 + m * 60 + s;
  return RPC_OK;
}

rpc_status pub_check_foreign_token(rpc_ctx *ctx, const char *value) {
  if (!value || !*value) return RPC_OK;
  if (strlen(value) > MAX_FOREIGN_TOKEN ||
      !text_only_chars(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    return rpc_invalid(ctx->arena, "pageToken", "INVALID_PAGE_TOKEN", "pageToken is not one this API issued");
  return RPC_OK;
}

rpc_status pub_check_quote(rpc_ctx *ctx, const Metro__Ticket__V1__QuoteFareRequest *r) {
  rpc_status st = pub_check_id(ctx, "originStationId", r->origin_station_id, "STATION_NOT_FOUND", "station");
  if (rpc_ok(st))
    st = pub_check_id(ctx, "destinationStationId", r->destination_station_id, "STATION_NOT_FOUND", "station");
  if (!rpc_ok(st)) return st;
  if (strcmp(r->origin_station_id, r->destination_station_id) == 0)
    return rpc_invalid(ctx->arena, "destinationStationId", "SAME_STATION",
                       "the origin and the destination are the same station");
  const char *trip = r->trip_type ? r->trip_type : "";
  if (strcmp(trip, "oneway") != 0 && strcmp(trip, "return") != 0)
    return rpc_invalid(ctx->arena, "tripType", "INVALID_TRIP_TYPE", "tripType must be oneway or return");
  const Metro__Ticket__V1__PassengerCounts *p = r->passengers;
  if (!p)
    return rpc_invalid(ctx->arena, "passengers", "INVALID_PASSENGER_COUNT",
                       "passengers is required: counts per passenger type, 1-%d people in all", PUB_MAX_PASSENGERS);
  const int32_t counts[] = {p->adult, p->child, p->teenager, p->student, p->senior, p->elder};
  int total = 0;
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    if (counts[i] < 0 || counts[i] > PUB_MAX_PASSENGERS)
      return rpc_invalid(ctx->arena, "passengers", "INVALID_PASSENGER_COUNT",
                         "each passenger count must be 0-%d", PUB_MAX_PASSENGERS);
    total += counts[i];
  }
  if (total < 1 || total > PUB_MAX_PASSENGERS)
    return rpc_invalid(ctx->arena, "passengers", "INVALID_PASSENGER_COUNT", "a quote is for 1-%d people in all",
                       PUB_MAX_PASSENGERS);
  return RPC_OK;
}

/* Our own tokens over a cached list: base64url of "p<offset>". */
rpc_status pub_page(rpc_ctx *ctx, int32_t page_size, const char *token, size_t total, size_t *offset, size_t *count) {
  if (page_size < 0 || page_size > PUB_MAX_PAGE_SIZE)
    return rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must be 0 (all) to %d",
                       PUB_MAX_PAGE_SIZE);
  *offset = 0;
  if (token && *token) {
    char raw[24];
    size_t len = 0, n = strlen(token);
    long v = -1;
    if (n <= 32 && b64_decode(B64_URL_NOPAD, token, n, raw, sizeof raw - 1, &len) && len >= 2 && raw[0] == 'p') {
      raw[len] = '\0';
      char *end;
      if (raw[1] >= '0' && raw[1] <= '9') v = strtol(raw + 1, &end, 10);
      if (v < 0 || *end || v > PUB_MAX_LIST_ITEMS) v = -1;
    }
    if (v < 0) return rpc_invalid(ctx->arena, "pageToken", "INVALID_PAGE_TOKEN", "pageToken is not one this API issued");
    *offset = (size_t)v;
  }
  if (*offset > total) *offset = total;
  size_t want = page_size == 0 ? total : (size_t)page_size;
  *count = total - *offset < want ? total - *offset : want;
  return RPC_OK;
}

const char *pub_next_token(rpc_ctx *ctx, size_t offset, size_t count, size_t total) {
  if (offset + count >= total) return "";
  char raw[24], out[40];
  snprintf(raw, sizeof raw, "p%zu", offset + count);
  if (!b64_encode(B64_URL_NOPAD, raw, strlen(raw), out, sizeof out)) return "";
  return arena_strdup(ctx->arena, out);
}
