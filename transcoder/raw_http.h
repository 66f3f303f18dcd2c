/* Raw HTTP methods (proto/metro/api/v1/http.proto): the metro.api.v1.HttpRequest built from an
 * HTTP request (headers filtered, strings checked) and the HttpResponse checked before writing. */
#ifndef METRO_RAW_HTTP_H
#define METRO_RAW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "metro/api/v1/http.pb-c.h"

/* A method whose request (response) type is this message is a raw one. */
#define RAW_HTTP_REQUEST_TYPE "metro.api.v1.HttpRequest"
#define RAW_HTTP_RESPONSE_TYPE "metro.api.v1.HttpResponse"

#define RAW_HTTP_MAX_RESPONSE_HEADERS 16
#define RAW_HTTP_MAX_HEADER_VALUE 4096
#define RAW_HTTP_MAX_CONTENT_TYPE 256

/* Full message names as descset_method spells them (no leading dot). */
bool raw_http_is_request_type(const char *full_name);
bool raw_http_is_response_type(const char *full_name);

/* Whether a request header reaches raw methods: every one but Cookie (any case). */
bool raw_http_header_passed(const char *name);

/* Builds an HttpRequest in an arena. Strings are copied; the body is referenced. */
typedef struct raw_http_request {
  Metro__Api__V1__HttpRequest msg;
  arena *arena;
  size_t cap_headers, cap_params;
  const char *bad; /* what is not valid UTF-8 ("the query string"), NULL while all is */
} raw_http_request;

void raw_http_request_init(raw_http_request *b, arena *a, const char *method, const char *path,
                           const char *raw_query, const char *client_ip);
/* Adds the header with its name lower-cased, unless raw_http_header_passed refuses it. */
void raw_http_request_add_header(raw_http_request *b, const char *name, const char *value);
void raw_http_request_add_path_param(raw_http_request *b, const char *name, const char *value);
void raw_http_request_set_body(raw_http_request *b, const void *body, size_t len);

/* An HttpResponse found writable. */
typedef struct raw_http_answer {
  int status;
  const char *content_type; /* application/json when the service left it empty */
  const uint8_t *body;
  size_t body_len;
  const char *header_names[RAW_HTTP_MAX_RESPONSE_HEADERS]; /* canonical spelling: "Location" */
  const char *header_values[RAW_HTTP_MAX_RESPONSE_HEADERS];
  int n_headers;
  bool has_cache_control;
} raw_http_answer;

/* The canonical spelling of an allowed response header (any case in), or NULL: Location,
 * Cache-Control, Content-Disposition, Content-Language, ETag, Last-Modified, Expires,
 * Retry-After. The gateway owns the rest (framing, Content-Type, CORS, cookies, request ids). */
const char *raw_http_response_header(const char *name);

/* NULL when resp can be written as is (out filled, pointing into resp), else why not: a status
 * outside 200-599, a body with 204 or 304, a header not allowed or given twice, a value or
 * content type that is not printable ASCII or too long. */
const char *raw_http_response_check(arena *a, const Metro__Api__V1__HttpResponse *resp, raw_http_answer *out);

#endif
