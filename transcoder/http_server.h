/* The gateway's HTTP/1.1 server: epoll loops (one per thread, one shared listener), strict parsing
 * (http_parse.h), a deadline for each whole request, keep-alive, and answers from any thread. */
#ifndef METRO_HTTP_SERVER_H
#define METRO_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"
#include "transcoder/http_parse.h"

typedef struct http_server http_server;
typedef struct http_exchange http_exchange; /* one request and its answer */

typedef struct http_header_kv {
  const char *name, *value; /* NUL-terminated, in the request's arena */
} http_header_kv;

/* A request whose head and body were read in full; valid until http_respond. */
typedef struct http_request {
  arena *arena; /* per request, freed after the answer is written */
  const char *method;
  const char *target; /* as received: path and query */
  const char *path;   /* the target before '?' */
  const char *query;  /* the bytes after '?', "" when none */
  const http_header_kv *headers;
  int n_headers;
  const char *body;
  size_t body_len;
  const char *peer_ip; /* the TCP peer */
  bool head;           /* HEAD: the answer is sent without its body */
} http_request;

/* Case-insensitive lookup of a request header: the first value, or NULL. */
const char *http_request_header(const http_request *req, const char *name);

typedef struct http_response {
  int status;
  const char *content_type; /* NULL: no Content-Type */
  const char *body;
  size_t body_len;
  const char *const *header_names; /* extra headers */
  const char *const *header_values;
  int n_headers;
  bool close; /* close the connection after this answer */
} http_response;

/* Called on a loop thread for each complete request; must lead to exactly one http_respond
 * for ex, from any thread, now or later. */
typedef void (*http_handler_fn)(http_exchange *ex, const http_request *req, void *user);

/* Writes the body of a refusal the server decides itself (malformed or oversized requests,
 * deadlines) into buf; returns its length. */
typedef size_t (*http_error_body_fn)(char *buf, size_t cap, int status, const char *reason, const char *message);

typedef struct http_server_config {
  const char *addr; /* IPv4 literal */
  int port;         /* 0: any free port */
  int threads;
  int max_connections;
  size_t max_body;
  http_limits limits;
  int request_deadline_ms; /* from a request's first byte to its last, however it trickles */
  int idle_timeout_ms;     /* a kept-alive connection with no request */
  http_handler_fn handler;
  void *user;
  http_error_body_fn error_body;
  const char *error_content_type;
  void (*thread_exit)(void); /* run by each loop thread as it ends (per-thread clients), or NULL */
} http_server_config;

http_server *http_server_start(const http_server_config *cfg, char *err, size_t errlen);
int http_server_port(const http_server *s);
/* Answers ex (copied: resp may be freed on return). */
void http_respond(http_exchange *ex, const http_response *resp);
/* Stops accepting, waits up to wait_ms for answers in flight, closes everything. */
void http_server_stop(http_server *s, int wait_ms);

#endif
