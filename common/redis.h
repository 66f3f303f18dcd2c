/* Redis on hiredis: one connection per thread that reconnects after failures. Rate limits
 * are in common/rate_limit.h. */
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

/* Which connection this thread holds: a number that changes each time it connects anew
 * (0 when not connected), so per-connection state (a loaded script) knows when to redo. */
unsigned long redis_connection_serial(void);

#endif
