/* periodic.h: N threads that each run a round of work, then wait on a condition variable for
 * the period (or run again at once when the round found work), until periodic_stop. */
#include "common/periodic.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"

#define PERIODIC_MAX_THREADS 16

struct periodic {
  const char *name;
  int64_t period_ms;
  periodic_fn fn;
  void *arg;
  atomic_bool stopping;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t threads[PERIODIC_MAX_THREADS];
  int n_threads;
};

/* Set once at start-up, before any periodic thread runs. */
static void (*thread_exit_hook)(void);

void periodic_set_thread_exit(void (*fn)(void)) { thread_exit_hook = fn; }

bool periodic_stopping(const periodic *p) { return atomic_load(&p->stopping); }

/* Sleeps the period unless stopped meanwhile. */
static void pause_for(periodic *p) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  int64_t ns = until.tv_nsec + p->period_ms * 1000000;
  until.tv_sec += (time_t)(ns / 1000000000);
  until.tv_nsec = (long)(ns % 1000000000);
  pthread_mutex_lock(&p->lock);
  while (!atomic_load(&p->stopping) && pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0) {
  }
  pthread_mutex_unlock(&p->lock);
}

static void *loop(void *arg) {
  periodic *p = arg;
  while (!atomic_load(&p->stopping))
    if (!p->fn(p, p->arg)) pause_for(p);
  if (thread_exit_hook) thread_exit_hook();
  return NULL;
}

periodic *periodic_start(const char *name, int threads, int64_t period_ms, periodic_fn fn, void *arg) {
  periodic *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  *p = (periodic){.name = name, .period_ms = period_ms, .fn = fn, .arg = arg};
  atomic_init(&p->stopping, false);
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  for (; p->n_threads < threads && p->n_threads < PERIODIC_MAX_THREADS; p->n_threads++)
    if (pthread_create(&p->threads[p->n_threads], NULL, loop, p) != 0) {
      log_error("%s: cannot start thread %d", name, p->n_threads);
      periodic_stop(p);
      return NULL;
    }
  return p;
}

void periodic_stop(periodic *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  atomic_store(&p->stopping, true);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->lock);
  free(p);
}
