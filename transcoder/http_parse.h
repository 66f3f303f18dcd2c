/* Strict HTTP/1.1 request parsing (RFC 9112) for the gateway's server: the request head with
 * its framing rules (Content-Length, Transfer-Encoding, Host) and an incremental chunked decoder. */
#ifndef METRO_HTTP_PARSE_H
#define METRO_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS_HARD 256 /* the parser's own array; the configured limit is lower */

typedef struct http_limits {
  size_t max_target;      /* request-target bytes; more → 414 */
  size_t max_header_line; /* one header field line; more → 431 */
  size_t max_head;        /* request line + headers; more → 431 */
  int max_headers;        /* header fields; more → 431 */
} http_limits;

typedef struct http_field {
  const char *name, *value; /* point into the parsed buffer; not NUL-terminated */
  size_t name_len, value_len;
} http_field;

typedef struct http_head {
  const char *method, *target;
  size_t method_len, target_len;
  int minor_version; /* HTTP/1.<minor>: 0 or 1 */
  http_field fields[HTTP_MAX_HEADERS_HARD];
  int n_fields;
  /* framing, derived from the fields */
  bool chunked;
  int64_t content_length; /* -1 when absent */
  bool keep_alive;        /* the client wants the connection kept */
  bool expect_continue;   /* Expect: 100-continue */
} http_head;

/* Why a request was refused: the HTTP status, a google.rpc reason and a message. The connection
 * is always closed after such an answer: what follows the bad part cannot be trusted. */
typedef struct http_parse_error {
  int status;
  const char *reason;
  const char *message;
} http_parse_error;

typedef enum { HTTP_PARSE_INCOMPLETE, HTTP_PARSE_DONE, HTTP_PARSE_FAILED } http_parse_result;

/* Parses the request head at the start of buf. DONE sets *consumed to the head's length
 * (through the blank line); INCOMPLETE asks for more bytes (unless the limits are already
 * exceeded, which FAILS); FAILED fills err. */
http_parse_result http_parse_head(const char *buf, size_t len, const http_limits *lim, http_head *out,
                                  size_t *consumed, http_parse_error *err);

/* Case-insensitive header lookup: the first field named `name`, or NULL. */
const http_field *http_head_field(const http_head *h, const char *name);

/* The chunked transfer coding, decoded as bytes arrive. */
typedef struct http_chunked {
  int state;
  uint64_t remaining; /* bytes left in the current chunk */
  size_t line_len;    /* bytes of the current size/trailer line so far */
  int digits;
  int trailer_fields;
} http_chunked;

typedef enum { HTTP_CHUNKED_MORE, HTTP_CHUNKED_DONE, HTTP_CHUNKED_FAILED } http_chunked_result;

/* Feeds in[0..len): appends decoded data through emit (false from emit stops with FAILED),
 * sets *used to the bytes consumed (on DONE the rest belongs to the next request). */
http_chunked_result http_chunked_feed(http_chunked *c, const char *in, size_t len, size_t *used,
                                      bool (*emit)(void *user, const char *data, size_t n), void *user,
                                      http_parse_error *err);

#endif
