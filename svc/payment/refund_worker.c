/* The background thread that makes each refund's first attempt soon after it becomes due
 * (a cancellation or a late payment); later retries belong to RetryRefunds, the job the
 * scheduler calls every METRO_REFUND_RETRY_S. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/log.h"
#include "common/pg.h"
#include "svc/payment/payment.h"

enum { BATCH = 20 };

static pthread_t worker;
static bool running;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool stopping;

static void run_once(pm_state *st) {
  arena *a = arena_create(16 * 1024);
  rpc_ctx ctx = {.arena = a, .state = st, .deadline_ms = INT64_MAX, .request_id = "refund-worker"};
  const char **ids;
  int n = 0;
  rpc_status s = pm_refunds_due(&ctx, BATCH, false, &ids, &n);
  if (!rpc_ok(s)) log_warn("refund worker: cannot read due refunds: %s", s.message);
  for (int i = 0; rpc_ok(s) && i < n; i++) {
    int outcome;
    rpc_status r = pm_refund_attempt(&ctx, ids[i], &outcome);
    if (!rpc_ok(r)) log_warn("refund worker: payment %s: %s", ids[i], r.message);
  }
  arena_destroy(a);
}

static void *loop(void *p) {
  pm_state *st = p;
  for (;;) {
    run_once(st);
    pthread_mutex_lock(&lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + st->settings.refund_poll_ms * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) == 0) {
    }
    bool done = stopping;
    pthread_mutex_unlock(&lock);
    if (done) break;
  }
  pg_disconnect();
  return NULL;
}

bool pm_refund_worker_start(pm_state *st) {
  running = pthread_create(&worker, NULL, loop, st) == 0;
  if (!running) log_error("refund worker: cannot start its thread");
  return running;
}

void pm_refund_worker_stop(void) {
  if (!running) return;
  pthread_mutex_lock(&lock);
  stopping = true;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  pthread_join(worker, NULL);
  running = false;
}
