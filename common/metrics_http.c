/* The metrics endpoint of a service's admin port (see metrics.h): /metrics, /healthz and /readyz
 * served by libmicrohttpd's own thread, GET only. Apart from metrics.c so a process that serves
 * these itself (the gateway) does not link libmicrohttpd. */
#include "common/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the HTTP endpoint ---- */

static pthread_mutex_t g_serve_lock = PTHREAD_MUTEX_INITIALIZER;
static struct MHD_Daemon *g_daemon;
static bool (*g_ready)(void);
static int g_port;

static enum MHD_Result http_reply(struct MHD_Connection *c, metrics_admin_answer a) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(a.body), a.body, a.owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!r) {
    if (a.owned) free(a.body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a.content_type);
  if (a.status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
  enum MHD_Result ret = MHD_queue_response(c, (unsigned int)a.status, r);
  MHD_destroy_response(r);
  return ret;
}

/* Rejections are answered on the first call, so an unwanted body is never read in; good
 * requests are answered on the second, as answering on the first makes libmicrohttpd
 * 0.9.75 close the connection (see docs/decisions.md), which would defeat keep-alive. */
static enum MHD_Result metrics_http_answer(void *cls, struct MHD_Connection *c, const char *url,
                                           const char *method, const char *version, const char *upload_data,
                                           size_t *upload_data_size, void **req_cls) {
  static int seen;
  (void)cls, (void)version, (void)upload_data;
  if (*req_cls == NULL) {
    bool has_body = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) ||
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    metrics_admin_answer refusal;
    if (metrics_admin_refusal(method, has_body, &refusal)) return http_reply(c, refusal);
    *req_cls = &seen;
    return MHD_YES;
  }
  if (*upload_data_size != 0) { /* not expected after the check above; drop it */
    *upload_data_size = 0;
    return MHD_YES;
  }
  return http_reply(c, metrics_admin_get(url, __atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)));
}

/* Opens the listening socket here rather than in libmicrohttpd, so a failure can be
 * reported with its cause and an ephemeral port can be read back. Returns -1 on error. */
static int listen_on(const char *addr, int port, bool *ipv6, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    len = sizeof *in4;
    *ipv6 = false;
  } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    len = sizeof *in6;
    *ipv6 = true;
  } else {
    snprintf(err, errlen, "metrics: %s is not an IPv4 or IPv6 address", addr);
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "metrics: socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0) {
    snprintf(err, errlen, "metrics: cannot listen on %s:%d: %s", addr, port, strerror(errno));
    close(fd);
    return -1;
  }
  if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
    g_port = ntohs(ss.ss_family == AF_INET6 ? in6->sin6_port : in4->sin_port);
  return fd;
}

bool metrics_serve(const char *addr, int port, bool (*ready)(void), char *err, size_t errlen) {
  char scratch[8];
  if (!err || errlen == 0) {
    err = scratch;
    errlen = sizeof scratch;
  }
  err[0] = '\0';
  if (port < 0 || port > 65535) {
    snprintf(err, errlen, "metrics: port %d is out of range", port);
    return false;
  }
  pthread_mutex_lock(&g_serve_lock);
  bool ok = false;
  if (g_daemon) {
    snprintf(err, errlen, "metrics: already serving on port %d", g_port);
    goto done;
  }
  bool ipv6 = false;
  int fd = listen_on(addr ? addr : "0.0.0.0", port, &ipv6, err, errlen);
  if (fd < 0) goto done;
  __atomic_store_n(&g_ready, ready, __ATOMIC_RELEASE);
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | (ipv6 ? MHD_USE_IPv6 : 0);
  g_daemon = MHD_start_daemon(flags, 0, NULL, NULL, metrics_http_answer, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                              MHD_OPTION_END);
  if (!g_daemon) {
    snprintf(err, errlen, "metrics: cannot start the HTTP daemon on %s:%d", addr ? addr : "0.0.0.0", port);
    close(fd);
    goto done;
  }
  ok = true;
done:
  pthread_mutex_unlock(&g_serve_lock);
  return ok;
}

int metrics_port(void) {
  pthread_mutex_lock(&g_serve_lock);
  int port = g_daemon ? g_port : 0;
  pthread_mutex_unlock(&g_serve_lock);
  return port;
}

void metrics_stop(void) {
  pthread_mutex_lock(&g_serve_lock);
  if (g_daemon) MHD_stop_daemon(g_daemon); /* closes the listening socket too */
  g_daemon = NULL;
  g_port = 0;
  __atomic_store_n(&g_ready, NULL, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&g_serve_lock);
}
