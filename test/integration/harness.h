/* Helpers for the integration tests: the running stack's addresses (stack.env), REST
 * calls through libcurl with parsed JSON answers, direct SQL, and unique test names. */
#ifndef METRO_TEST_HARNESS_H
#define METRO_TEST_HARNESS_H

#include <jansson.h>
#include <stdbool.h>

#include "common/rpc_client.h"

typedef struct http_response {
  long status;
  json_t *json;        /* NULL when the body is not JSON */
  char *body;
  char *request_id;    /* X-Request-Id of the answer */
  char *retry_after;
  char *allow;
  char *content_type;
  char *cors_origin;   /* Access-Control-Allow-Origin */
} http_response;

/* Loads $METRO_TEST_ENV (KEY=VALUE lines); aborts the test binary when missing. */
void harness_init(void);
/* A value from stack.env, or NULL. */
const char *harness_env(const char *key);
/* The stack's identity HMAC secret (malloc'ed); aborts the test when unreadable. */
char *harness_stack_secret(void);
/* gRPC metadata carrying an identity the stack's services trust: user_id with one role,
 * signed with the stack's secret, valid ttl_s seconds (strings in the arena). */
rpc_call_meta harness_signed_meta(arena *a, const char *user_id, const char *role, int ttl_s);

/* method, path ("/v1/..."), optional JSON body, optional bearer token, optional extra
 * headers ("Name: value", NULL-terminated). base NULL = the stack's REST address. */
http_response *http_call_at(const char *base, const char *method, const char *path, const char *body,
                            const char *bearer, const char *const *headers);
http_response *http_call(const char *method, const char *path, const char *body, const char *bearer);
void http_response_free(http_response *r);

/* The google.rpc.Status ErrorInfo reason / field of an error body, or "". */
const char *error_reason(const http_response *r);
const char *error_field(const http_response *r);
/* String member at a dotted path ("user.email"), or "". */
const char *json_at(const http_response *r, const char *path);

/* A fresh, unique lower-case suffix for emails and usernames. */
const char *unique_name(const char *prefix);

/* One text value of the first row of a query run as the PostgreSQL superuser. NULL when no row.
 * The result is malloc'ed. */
char *sql_value(const char *query, const char *param);

/* Starts a program with extra environment entries ("K=V", NULL-terminated), output to log;
 * returns its pid. */
int spawn(const char *program, const char *const *env, const char *log_path);
/* Waits up to timeout_ms for pid to exit; returns the exit status or -1 when still running. */
int wait_exit(int pid, int timeout_ms);
/* A free loopback TCP port. */
int free_port(void);
/* Polls until 127.0.0.1:port accepts connections or timeout_ms passes. */
bool wait_port(int port, int timeout_ms);

#endif
