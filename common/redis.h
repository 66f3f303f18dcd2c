/* Redis on hiredis: one connection per thread that reconnects after failures, and
 * the helpers services share (fixed-window rate limits, cached values). */
#ifndef METRO_REDIS_H
#define METRO_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "common/arena.h"

/* Process-wide address; password may be NULL. */
void redis_configure(const char *host, int port, const char *password);

/* Runs a command (hiredis format) on this thread's connection, reconnecting once if
 * the connection is broken. The reply belongs to the arena. NULL when Redis is down. */
redisReply *redis_command(arena *a, const char *fmt, ...);

/* Closes this thread's connection (thread exit). */
void redis_disconnect(void);

/* Fixed-window counter: counts one hit on `key` for `window_s` seconds.
 * Returns 1 when within `limit`, 0 when over, -1 when Redis is unavailable. */
int redis_rate_limit(arena *a, const char *key, int limit, int window_s);

#endif
