/* Reading a provider's HTTP request from the network without trusting it: the body copied with
 * a NUL, headers looked up once and bounded, and the text and JSON forms the callback log stores. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "svc/webhook/webhook.h"

#define MAX_CLIENT_IP 64
#define MAX_LOGGED_HEADERS 64
#define MAX_HEADER_NAME 128
#define MAX_LOGGED_VALUE 1024

void wh_inbound_read(rpc_ctx *ctx, const Metro__Api__V1__HttpRequest *http, wh_source source, wh_inbound *out) {
  memset(out, 0, sizeof *out);
  out->http = http;
  const char *src = "";
  size_t n = 0;
  if (source == WH_FROM_QUERY && http->raw_query) {
    src = http->raw_query;
    n = strlen(src);
  } else if (source == WH_FROM_BODY && http->body.data) {
    src = (const char *)http->body.data;
    n = http->body.len;
  }
  out->raw_len = n;
  if (n > WH_MAX_PAYLOAD) n = 0; /* refused by the pipeline; never copied */
  char *copy = arena_alloc(ctx->arena, n + 1);
  if (n) memcpy(copy, src, n);
  copy[n] = '\0';
  out->raw = copy;
  /* The runtime's client address (the gateway's signed one, else the peer), never
   * HttpRequest.client_ip: any gRPC caller can write that field. */
  const char *ip = ctx->client_ip;
  out->client_ip = ip ? wh_text_clean(ctx->arena, ip, strlen(ip), MAX_CLIENT_IP) : "";
}

const char *wh_header(const wh_inbound *in, const char *name, size_t max) {
  const char *found = NULL;
  for (size_t i = 0; i < in->http->n_headers; i++) {
    const Metro__Api__V1__HttpHeader *h = in->http->headers[i];
    if (!h || !h->name || strcasecmp(h->name, name) != 0) continue;
    if (found) return NULL; /* sent twice: which one the provider meant is unknowable */
    found = h->value ? h->value : "";
  }
  if (found && strnlen(found, max + 1) > max) return NULL;
  return found;
}

/* Headers whose value is a credential: only the scheme word is kept. */
static bool is_credential(const char *name) {
  static const char *const names[] = {"authorization", "proxy-authorization", "x-api-key", "apikey"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcasecmp(name, names[i]) == 0) return true;
  return false;
}

static const char *redact(arena *a, const char *value) {
  size_t scheme = strcspn(value, " \t");
  if (scheme == 0 || scheme > 32 || value[scheme] == '\0') return "[redacted]";
  return arena_printf(a, "%.*s [redacted]", (int)scheme, value);
}

/* jansson's dump into the arena. */
static const char *dump(arena *a, json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(j);
  if (!text) return "{}";
  char *out = arena_strdup(a, text);
  free(text);
  return out;
}

const char *wh_headers_json(rpc_ctx *ctx, const wh_inbound *in) {
  json_t *o = json_object();
  size_t kept = 0;
  for (size_t i = 0; i < in->http->n_headers && kept < MAX_LOGGED_HEADERS; i++) {
    const Metro__Api__V1__HttpHeader *h = in->http->headers[i];
    if (!h || !h->name || !*h->name) continue;
    const char *name = wh_text_clean(ctx->arena, h->name, strlen(h->name), MAX_HEADER_NAME);
    const char *raw = h->value ? h->value : "";
    const char *value = wh_text_clean(ctx->arena, raw, strlen(raw), MAX_LOGGED_VALUE);
    if (is_credential(name)) value = redact(ctx->arena, value);
    json_t *prev = json_object_get(o, name);
    if (prev) {
      value = arena_printf(ctx->arena, "%s, %s", json_string_value(prev), value);
      value = wh_text_clean(ctx->arena, value, strlen(value), 4 * MAX_LOGGED_VALUE);
    } else {
      kept++;
    }
    json_object_set_new(o, name, json_string(value));
  }
  return dump(ctx->arena, o);
}

const char *wh_payload_json(rpc_ctx *ctx, wh_source source, const char *raw, size_t n) {
  if (source == WH_FROM_BODY && n > 0) {
    /* Re-serialised by jansson so what PostgreSQL parses is known-good JSON (jsonb keeps neither
     * key order nor spacing anyway; raw_text holds the exact bytes). */
    json_t *j = json_loadb(raw, n, JSON_DECODE_ANY, NULL);
    if (j) return dump(ctx->arena, j);
  }
  const char *text = wh_text_clean(ctx->arena, raw, n, WH_MAX_PAYLOAD);
  return dump(ctx->arena, json_pack("{s:s}", source == WH_FROM_QUERY ? "query" : "body", text));
}

/* The length of the valid UTF-8 sequence at s[0..n) (1-4), or 0 when it is not one (overlongs,
 * surrogates and code points above U+10FFFF included). NUL is never valid here. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c == 0xe0) len = 3, lo = 0xa0;
  else if (c == 0xed) len = 3, hi = 0x9f;
  else if (c >= 0xe1 && c <= 0xef) len = 3;
  else if (c == 0xf0) len = 4, lo = 0x90;
  else if (c >= 0xf1 && c <= 0xf3) len = 4;
  else if (c == 0xf4) len = 4, hi = 0x8f;
  else return 0;
  if (len > n || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  return len;
}

const char *wh_text_clean(arena *a, const char *s, size_t n, size_t max) {
  static const char replacement[] = "\xef\xbf\xbd";
  size_t cap = n < max / 3 ? 3 * n : max; /* a byte becomes at most 3 */
  char *out = arena_alloc(a, cap + 1);
  const unsigned char *p = (const unsigned char *)s;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t len = utf8_seq(p + i, n - i);
    const char *piece = len ? s + i : replacement;
    size_t piece_len = len ? len : 3;
    if (o + piece_len > cap) break;
    memcpy(out + o, piece, piece_len);
    o += piece_len;
    i += len ? len : 1;
  }
  out[o] = '\0';
  return out;
}
