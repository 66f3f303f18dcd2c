/* Background threads that repeat a piece of work until stopped: the refund worker, the
 * notification senders and the scheduler's ticker. Stopping wakes a sleeping thread at once. */
#ifndef METRO_PERIODIC_H
#define METRO_PERIODIC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct periodic periodic;

/* One round of work; true when it found some (the next round starts at once), false to sleep
 * period_ms first. Long rounds may poll periodic_stopping() to end early. */
typedef bool (*periodic_fn)(periodic *p, void *arg);

/* Starts `threads` threads running fn(arg); NULL (logged) when one cannot start, after stopping
 * those that did. Each thread closes its database connection when it ends. */
periodic *periodic_start(const char *name, int threads, int64_t period_ms, periodic_fn fn, void *arg);
/* Wakes every thread, waits for the rounds in progress to end, frees p (NULL is ignored). */
void periodic_stop(periodic *p);
/* What every periodic thread runs as it ends (a service releases its thread's database and
 * Redis connections); set once at start-up, before the first periodic_start. */
void periodic_set_thread_exit(void (*fn)(void));
bool periodic_stopping(const periodic *p);

#endif
