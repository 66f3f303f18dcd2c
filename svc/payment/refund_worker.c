/* The background thread that makes each refund's first attempt soon after it becomes due
 * (a cancellation or a late payment); later retries belong to RetryRefunds, the job the
 * scheduler calls every METRO_REFUND_RETRY_S. */
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "common/periodic.h"
#include "svc/payment/payment.h"

enum { BATCH = 20 };

static periodic *worker;

/* One round: the first attempt of every refund due now, up to BATCH; then a pause. */
static bool attempt_due_refunds(periodic *p, void *arg) {
  (void)p;
  arena *a = arena_create(16 * 1024);
  rpc_ctx ctx = {.arena = a, .state = arg, .deadline_ms = INT64_MAX, .request_id = "refund-worker"};
  const char **ids;
  int n = 0;
  pm_metrics_under_review(&ctx);
  rpc_status s = pm_refunds_due(&ctx, BATCH, false, &ids, &n);
  if (!rpc_ok(s)) log_warn("refund worker: cannot read due refunds: %s", s.message);
  for (int i = 0; rpc_ok(s) && i < n; i++) {
    int outcome;
    rpc_status r = pm_refund_attempt(&ctx, ids[i], &outcome);
    if (!rpc_ok(r)) log_warn("refund worker: payment %s: %s", ids[i], r.message);
  }
  arena_destroy(a);
  return false;
}

bool pm_refund_worker_start(pm_state *st) {
  worker = periodic_start("refund worker", 1, st->settings.refund_poll_ms, attempt_due_refunds, st);
  return worker != NULL;
}

void pm_refund_worker_stop(void) {
  periodic_stop(worker);
  worker = NULL;
}
