/* Outgoing HTTP(S) for services that call external systems (payment providers): one
 * request at a time on libcurl, bounded in time and size, answers copied into the arena. */
#ifndef METRO_HTTP_CLIENT_H
#define METRO_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"

#define HTTPC_MAX_HEADERS 16
#define HTTPC_DEFAULT_MAX_BODY (1024 * 1024)

typedef struct httpc_request {
  const char *method;            /* "GET", "POST", ... */
  const char *url;               /* http:// or https:// only (other schemes are refused) */
  const char *headers[HTTPC_MAX_HEADERS + 1]; /* "Name: value", NULL-terminated */
  const char *body;              /* may be NULL */
  size_t body_len;
  const char *basic_user;        /* HTTP Basic credentials (both or neither) */
  const char *basic_password;
  int timeout_ms;                /* whole request; 0 = 10000 */
  int connect_timeout_ms;        /* 0 = 3000 */
  size_t max_body;               /* bigger answers fail; 0 = HTTPC_DEFAULT_MAX_BODY */
} httpc_request;

typedef struct httpc_response {
  long status;                   /* 0 when no answer came (error set) */
  char *body;                    /* NUL-terminated copy in the arena ("" when empty) */
  size_t body_len;
  const char *error;             /* transport error in the arena (refused, timeout, too big), or NULL */
} httpc_response;

/* curl_global_init, once per process (pthread_once). httpc_send calls it as well; calling it at
 * startup makes a broken libcurl fail there rather than on the first request. */
bool httpc_global_init(void);

/* Sends one request and waits for the answer. True when an HTTP answer arrived (any status);
 * false with out->error set on a transport failure. Never follows redirects. Safe to call
 * from many threads at once (a handle per thread, reused for keep-alive). */
bool httpc_send(arena *a, const httpc_request *req, httpc_response *out);

#endif
