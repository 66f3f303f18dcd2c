/* The ticker thread: each METRO_SCHEDULER_TICK_MS, claims every enabled job's latest slot that has no
 * run yet (so start-up runs the latest missed one), then takes over runs whose lease expired. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/pg.h"
#include "svc/scheduler/scheduler.h"

enum { MAX_MEMO = 128, MAX_TAKEOVERS_PER_TICK = 8 };

static pthread_t thread;
static bool running;
static atomic_bool stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

/* The slot of each job this replica already claimed or found claimed (ticker thread only). */
static struct {
  char job[64];
  int64_t slot;
} memo[MAX_MEMO];
static int n_memo;

static int64_t *memo_slot(const char *job) {
  for (int i = 0; i < n_memo; i++)
    if (strcmp(memo[i].job, job) == 0) return &memo[i].slot;
  if (n_memo == MAX_MEMO) n_memo = 0; /* far more jobs than expected: forget, the table still decides */
  snprintf(memo[n_memo].job, sizeof memo[n_memo].job, "%s", job);
  memo[n_memo].slot = 0;
  return &memo[n_memo++].slot;
}

static void run_claimed(rpc_ctx *ctx, const sch_claim *c) {
  ctx->request_id = c->run_id; /* the target's logs name the run */
  sch_run_execute(ctx, c);
  ctx->request_id = "scheduler";
}

static void tick(sch_state *st) {
  arena *a = arena_create(32 * 1024);
  rpc_ctx ctx = {.arena = a, .alloc = arena_protobuf_allocator(a), .state = st, .deadline_ms = INT64_MAX,
                 .request_id = "scheduler"};
  sch_job *jobs;
  int n;
  rpc_status s = sch_jobs_list(&ctx, true, NULL, NULL, 1000, &jobs, &n);
  if (!rpc_ok(s)) log_warn("scheduler: cannot read the jobs: %s", s.message);
  for (int i = 0; rpc_ok(s) && i < n && !atomic_load(&stopping); i++) {
    int64_t *handled = memo_slot(jobs[i].name);
    int64_t slot = sch_due_slot(jobs[i].schedule, sch_now_us(&st->settings) / 1000000, *handled);
    if (slot <= 0) continue;
    sch_claim *c;
    s = sch_run_claim(&ctx, &jobs[i], slot * 1000000, "schedule", NULL, &c);
    if (!rpc_ok(s)) {
      log_warn("scheduler: cannot claim a run of %s: %s", jobs[i].name, s.message);
      break;
    }
    *handled = slot;
    if (c) run_claimed(&ctx, c);
  }
  for (int i = 0; i < MAX_TAKEOVERS_PER_TICK && !atomic_load(&stopping); i++) {
    sch_claim *c;
    s = sch_run_reclaim(&ctx, &c);
    if (!rpc_ok(s)) log_warn("scheduler: cannot look for expired leases: %s", s.message);
    if (!rpc_ok(s) || !c) break;
    log_info("scheduler: taking over run %s of %s (attempt %d): its holder's lease expired", c->run_id, c->job,
             c->attempts);
    sch_metrics_takeover(c->job);
    run_claimed(&ctx, c);
  }
  arena_destroy(a);
}

static void *loop(void *p) {
  sch_state *st = p;
  while (!atomic_load(&stopping)) {
    tick(st);
    pthread_mutex_lock(&lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + st->settings.tick_ms * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    while (!atomic_load(&stopping) && pthread_cond_timedwait(&wake, &lock, &until) == 0) {
    }
    pthread_mutex_unlock(&lock);
  }
  pg_disconnect();
  return NULL;
}

bool sch_ticker_start(sch_state *st) {
  if (!st->settings.ticker) {
    log_info("scheduler: ticker off (METRO_SCHEDULER_TICKER=false): only triggered runs");
    return true;
  }
  atomic_store(&stopping, false);
  running = pthread_create(&thread, NULL, loop, st) == 0;
  if (!running) log_error("scheduler: cannot start the ticker thread");
  return running;
}

void sch_ticker_stop(void) {
  if (!running) return;
  pthread_mutex_lock(&lock);
  atomic_store(&stopping, true);
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  pthread_join(thread, NULL);
  running = false;
}
