/* The gateway's admin port (see admin_http.h): one loop thread, small limits, GET only; the same
 * answers as a service's metrics endpoint (metrics_admin_refusal and metrics_admin_get). */
#include "transcoder/admin_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "transcoder/http_server.h"

static http_server *admin;
static bool (*admin_ready)(void);

static void on_admin_request(http_exchange *ex, const http_request *req, void *user) {
  (void)user;
  static const char *const allow_name[] = {"Allow"}, *const allow_value[] = {"GET"};
  bool has_body = req->body_len > 0 || http_request_header(req, "Content-Length") ||
                  http_request_header(req, "Transfer-Encoding");
  metrics_admin_answer a;
  if (!metrics_admin_refusal(req->method, has_body, &a)) a = metrics_admin_get(req->path, admin_ready);
  http_response r = {.status = a.status, .content_type = a.content_type, .body = a.body, .body_len = strlen(a.body)};
  if (a.status == 405) r.header_names = allow_name, r.header_values = allow_value, r.n_headers = 1;
  http_respond(ex, &r); /* copies the answer */
  if (a.owned) free(a.body);
}

static size_t admin_error_body(char *buf, size_t cap, int status, const char *reason, const char *message) {
  (void)status, (void)reason;
  int n = snprintf(buf, cap, "%s\n", message ? message : "bad request");
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

bool admin_http_start(const char *addr, int port, bool (*ready)(void), char *err, size_t errlen) {
  admin_ready = ready;
  http_server_config cfg = {
      .addr = addr,
      .port = port,
      .threads = 1,
      .max_connections = 64,
      .max_body = 0,
      .limits = {.max_target = 2048, .max_header_line = 8192, .max_head = 16384, .max_headers = 64},
      .request_deadline_ms = 10000,
      .idle_timeout_ms = 10000,
      .handler = on_admin_request,
      .error_body = admin_error_body,
      .error_content_type = "text/plain; charset=utf-8",
  };
  admin = http_server_start(&cfg, err, errlen);
  return admin != NULL;
}

void admin_http_stop(void) {
  if (admin) http_server_stop(admin, 1000);
  admin = NULL;
}
