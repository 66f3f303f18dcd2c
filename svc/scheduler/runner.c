/* A claimed run carried out (test-only hold, target call kept inside the lease, outcome recorded
 * fenced on the lease, counted and logged): the ticker and the trigger method both end here. */
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"
#include "svc/scheduler/scheduler.h"

static metric_family *m_runs, *m_seconds, *m_takeovers;

void sch_metrics_init(void) {
  m_runs = metrics_counter("metro_job_runs_total",
                           "Job runs this replica carried out, by job and outcome (succeeded, failed); the "
                           "label is job_name, since Prometheus owns job",
                           "job_name", "outcome");
  m_seconds = metrics_histogram("metro_job_run_duration_seconds", "Time from claim to record of a job run, by job",
                                "job_name", NULL);
  m_takeovers = metrics_counter("metro_job_lease_takeovers_total",
                                "Runs this replica took over after their holder's lease expired, by job", "job_name",
                                NULL);
}

void sch_metrics_takeover(const char *job) {
  if (m_takeovers) metrics_add(m_takeovers, job, NULL, 1);
}

static const char *slot_text(rpc_ctx *ctx, int64_t us) {
  time_t t = (time_t)(us / 1000000) + SCH_TZ_OFFSET_S;
  struct tm tm;
  gmtime_r(&t, &tm);
  return arena_printf(ctx->arena, "%04d-%02d-%02dT%02d:%02d:%02d+07:00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec);
}

bool sch_run_execute(rpc_ctx *ctx, const sch_claim *c) {
  const sch_settings *s = &sch_st(ctx)->settings;
  int64_t claimed = sch_mono_ms();
  const char *slot = slot_text(ctx, c->scheduled_us);
  if (s->hold_ms > 0) {
    log_info("scheduler: holding run %s of %s (%s) for %lld ms", c->run_id, c->job, slot, (long long)s->hold_ms);
    sch_sleep_ms(s->hold_ms, NULL);
  }
  int64_t now = sch_mono_ms();
  int64_t timeout = sch_call_deadline_ms(now, s->call_timeout_ms, c->lease_until_ms) - now;
  const char *response = NULL;
  rpc_status st = timeout > 0 ? sch_target_call(ctx, c->method, c->request_json, timeout, &response)
                              : rpc_error(ctx->arena, GRPC_STATUS_DEADLINE_EXCEEDED, "LEASE_SPENT",
                                          "the lease ran out before the call could start");
  bool ok = rpc_ok(st);
  const char *error = NULL;
  if (!ok) {
    /* "UNAVAILABLE: ...", with the reason when it says more than the code ("UNIMPLEMENTED
     * (UNKNOWN_METHOD): ..."). */
    const char *code = rpc_code_name(st.code);
    bool reason = st.reason && *st.reason && strcmp(st.reason, code) != 0;
    error = arena_printf(ctx->arena, "%s%s%s%s: %s", code, reason ? " (" : "", reason ? st.reason : "",
                         reason ? ")" : "", st.message ? st.message : "");
  }
  bool kept;
  rpc_status w = sch_run_finish(ctx, c, ok, response, error, &kept);
  const char *outcome = ok ? "succeeded" : "failed";
  if (!rpc_ok(w)) {
    log_error("scheduler: run %s of %s (%s) %s but cannot be recorded (%s); its lease will expire and it runs again",
              c->run_id, c->job, slot, outcome, w.message);
    return false;
  }
  if (!kept) {
    log_warn("scheduler: run %s of %s (%s) %s after its lease was lost; another replica records it", c->run_id,
             c->job, slot, outcome);
    return true;
  }
  if (m_runs) metrics_add(m_runs, c->job, outcome, 1);
  if (m_seconds) metrics_observe(m_seconds, c->job, NULL, (double)(sch_mono_ms() - claimed) / 1000.0);
  if (ok)
    log_info("scheduler: %s (%s) succeeded, attempt %d: %s", c->job, slot, c->attempts, response ? response : "");
  else
    log_warn("scheduler: %s (%s) failed, attempt %d: %s", c->job, slot, c->attempts, error);
  return true;
}
