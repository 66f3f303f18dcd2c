/* Raw HTTP methods (see raw_http.h): which request headers pass, building HttpRequest with its
 * UTF-8 checks, and the rules an HttpResponse must meet before the gateway writes it. */
#include "transcoder/raw_http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"

bool raw_http_is_request_type(const char *full_name) {
  return full_name && strcmp(full_name, RAW_HTTP_REQUEST_TYPE) == 0;
}

bool raw_http_is_response_type(const char *full_name) {
  return full_name && strcmp(full_name, RAW_HTTP_RESPONSE_TYPE) == 0;
}

/* Cookies are the browser session of another site on this origin: never a provider's input. */
bool raw_http_header_passed(const char *name) { return name && strcasecmp(name, "cookie") != 0; }

/* ---- the request ---- */

static char *raw_copy(raw_http_request *b, const char *s, const char *what) {
  if (!s) s = "";
  if (!b->bad && text_utf8_length(s) < 0) b->bad = what;
  return arena_strdup(b->arena, s);
}

void raw_http_request_init(raw_http_request *b, arena *a, const char *method, const char *path,
                           const char *raw_query, const char *client_ip) {
  memset(b, 0, sizeof *b);
  metro__api__v1__http_request__init(&b->msg);
  b->arena = a;
  b->msg.method = raw_copy(b, method, "the method");
  b->msg.path = raw_copy(b, path, "the path");
  b->msg.raw_query = raw_copy(b, raw_query, "the query string");
  b->msg.client_ip = raw_copy(b, client_ip, "the client address");
}

/* Makes room for one more pointer in an arena array of capacity *cap. */
static void *raw_grow(arena *a, void *items, size_t n, size_t *cap, size_t size) {
  if (n < *cap) return items;
  size_t grown = *cap ? *cap * 2 : 8;
  void *out = arena_alloc(a, grown * size);
  if (n) memcpy(out, items, n * size);
  *cap = grown;
  return out;
}

void raw_http_request_add_header(raw_http_request *b, const char *name, const char *value) {
  if (!name || !raw_http_header_passed(name)) return;
  Metro__Api__V1__HttpHeader *h = arena_alloc(b->arena, sizeof *h);
  metro__api__v1__http_header__init(h);
  char *lower = raw_copy(b, name, "a header name");
  for (char *p = lower; *p; p++) *p = (char)tolower((unsigned char)*p);
  h->name = lower;
  h->value = raw_copy(b, value, "a header value");
  b->msg.headers = raw_grow(b->arena, b->msg.headers, b->msg.n_headers, &b->cap_headers, sizeof h);
  b->msg.headers[b->msg.n_headers++] = h;
}

void raw_http_request_add_path_param(raw_http_request *b, const char *name, const char *value) {
  Metro__Api__V1__HttpRequest__PathParamsEntry *e = arena_alloc(b->arena, sizeof *e);
  metro__api__v1__http_request__path_params_entry__init(e);
  e->key = raw_copy(b, name, "a path variable");
  e->value = raw_copy(b, value, "a path variable");
  b->msg.path_params = raw_grow(b->arena, b->msg.path_params, b->msg.n_path_params, &b->cap_params, sizeof e);
  b->msg.path_params[b->msg.n_path_params++] = e;
}

void raw_http_request_set_body(raw_http_request *b, const void *body, size_t len) {
  b->msg.body.data = len ? (uint8_t *)body : NULL;
  b->msg.body.len = len;
}

/* ---- the response ---- */

static const char *const raw_allowed_headers[] = {
    "Location", "Cache-Control", "Content-Disposition", "Content-Language",
    "ETag",     "Last-Modified", "Expires",             "Retry-After",
};

const char *raw_http_response_header(const char *name) {
  for (size_t i = 0; name && i < sizeof raw_allowed_headers / sizeof raw_allowed_headers[0]; i++)
    if (strcasecmp(name, raw_allowed_headers[i]) == 0) return raw_allowed_headers[i];
  return NULL;
}

/* Printable ASCII and tab only, so nothing can end the header line early. */
static bool raw_field_value_ok(const char *s, size_t max) {
  size_t n = 0;
  for (; s[n]; n++)
    if (n >= max || ((unsigned char)s[n] < 0x20 && s[n] != '\t') || (unsigned char)s[n] > 0x7e) return false;
  return true;
}

const char *raw_http_response_check(arena *a, const Metro__Api__V1__HttpResponse *resp, raw_http_answer *out) {
  memset(out, 0, sizeof *out);
  if (resp->status < 200 || resp->status > 599) return arena_printf(a, "status %d is outside 200-599", resp->status);
  if ((resp->status == 204 || resp->status == 304) && resp->body.len > 0)
    return arena_printf(a, "status %d cannot carry a body", resp->status);
  const char *type = resp->content_type && resp->content_type[0] ? resp->content_type : "application/json";
  if (!raw_field_value_ok(type, RAW_HTTP_MAX_CONTENT_TYPE)) return "the content type is not a valid header value";
  if (resp->n_headers > RAW_HTTP_MAX_RESPONSE_HEADERS)
    return arena_printf(a, "%zu headers, more than %d", resp->n_headers, RAW_HTTP_MAX_RESPONSE_HEADERS);
  for (size_t i = 0; i < resp->n_headers; i++) {
    const Metro__Api__V1__HttpHeader *h = resp->headers[i];
    const char *name = raw_http_response_header(h->name);
    if (!name) return arena_printf(a, "header \"%.64s\" is not on the allow-list", h->name ? h->name : "");
    for (int k = 0; k < out->n_headers; k++)
      if (out->header_names[k] == name) return arena_printf(a, "header %s given twice", name);
    if (!h->value || !raw_field_value_ok(h->value, RAW_HTTP_MAX_HEADER_VALUE))
      return arena_printf(a, "header %s: the value is not printable ASCII of at most %d bytes", name,
                          RAW_HTTP_MAX_HEADER_VALUE);
    out->header_names[out->n_headers] = name;
    out->header_values[out->n_headers++] = h->value;
    out->has_cache_control |= strcmp(name, "Cache-Control") == 0;
  }
  out->status = resp->status;
  out->content_type = type;
  out->body = resp->body.len ? resp->body.data : (const uint8_t *)"";
  out->body_len = resp->body.len;
  return NULL;
}
