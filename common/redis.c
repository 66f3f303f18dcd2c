/* Redis on hiredis: a connection per thread with short timeouts, reconnecting after a
 * failure (at most once a second), replies owned by the caller's arena. */
#include "common/redis.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

static char *g_host;
static int g_port;
static char *g_password;

static _Thread_local redisContext *t_ctx;
static _Thread_local time_t t_next_attempt;
static _Thread_local unsigned long t_serial; /* counts this thread's connections */

void redis_configure(const char *host, int port, const char *password) {
  free(g_host);
  free(g_password);
  g_host = host ? strdup(host) : NULL;
  g_port = port;
  g_password = password && *password ? strdup(password) : NULL;
}

static void drop(void) {
  if (t_ctx) redisFree(t_ctx);
  t_ctx = NULL;
}

void redis_disconnect(void) { drop(); }

static redisContext *conn(void) {
  if (t_ctx) return t_ctx;
  if (!g_host) return NULL;
  time_t now = time(NULL);
  if (now < t_next_attempt) return NULL;
  struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
  redisContext *c = redisConnectWithTimeout(g_host, g_port, tv);
  if (!c || c->err) {
    log_warn("redis connection to %s:%d failed: %s", g_host, g_port, c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    t_next_attempt = now + 1;
    return NULL;
  }
  redisSetTimeout(c, tv);
  if (g_password) {
    redisReply *r = redisCommand(c, "AUTH %s", g_password);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    if (!ok) {
      log_warn("redis authentication failed");
      redisFree(c);
      t_next_attempt = now + 1;
      return NULL;
    }
  }
  t_ctx = c;
  t_serial++;
  return c;
}

static void free_reply(void *r) { freeReplyObject(r); }

redisReply *redis_command(arena *a, const char *fmt, ...) {
  for (int attempt = 0; attempt < 2; attempt++) {
    redisContext *c = conn();
    if (!c) return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r) {
      arena_defer(a, free_reply, r);
      return r;
    }
    drop(); /* broken connection: reconnect once */
  }
  return NULL;
}

unsigned long redis_connection_serial(void) { return t_ctx ? t_serial : 0; }
