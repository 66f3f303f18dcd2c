/* The ticker thread: each METRO_SCHEDULER_TICK_MS, claims every enabled job's latest slot that has no
 * run yet (so start-up runs the latest missed one), then takes over runs whose lease expired. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/periodic.h"
#include "svc/scheduler/scheduler.h"

enum { MAX_MEMO = 128, MAX_TAKEOVERS_PER_TICK = 8 };

static periodic *ticker;

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

static bool tick(periodic *p, void *arg) {
  sch_state *st = arg;
  arena *a = arena_create(32 * 1024);
  rpc_ctx ctx = {.arena = a, .alloc = arena_protobuf_allocator(a), .state = st, .deadline_ms = INT64_MAX,
                 .request_id = "scheduler"};
  sch_job *jobs;
  int n;
  rpc_status s = sch_jobs_list(&ctx, true, NULL, NULL, 1000, &jobs, &n);
  if (!rpc_ok(s)) log_warn("scheduler: cannot read the jobs: %s", s.message);
  for (int i = 0; rpc_ok(s) && i < n && !periodic_stopping(p); i++) {
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
  for (int i = 0; i < MAX_TAKEOVERS_PER_TICK && !periodic_stopping(p); i++) {
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
  return false;
}

bool sch_ticker_start(sch_state *st) {
  if (!st->settings.ticker) {
    log_info("scheduler: ticker off (METRO_SCHEDULER_TICKER=false): only triggered runs");
    return true;
  }
  ticker = periodic_start("scheduler ticker", 1, st->settings.tick_ms, tick, st);
  return ticker != NULL;
}

void sch_ticker_stop(void) {
  periodic_stop(ticker);
  ticker = NULL;
}
