/* metro-scheduler: the background jobs of domain spec §17 as rows of a table, each run claimed once
 * across replicas with a PostgreSQL lease and recorded; serves metro.scheduler.v1.SchedulerService. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/rpc_client.h"
#include "common/service.h"
#include "svc/scheduler/scheduler.h"

extern const pg_migration *const scheduler_migrations;

static sch_state state;

static bool scheduler_init(void *p, const service_settings *common) {
  sch_state *st = p;
  sch_settings *s = &st->settings;
  if (s->call_timeout_ms >= s->lease_s * 1000) {
    log_error("METRO_JOB_TIMEOUT_MS (%lld) must be shorter than METRO_JOB_LEASE_S (%lld s)",
              (long long)s->call_timeout_ms, (long long)s->lease_s);
    return false;
  }
  if (*s->replica) {
    snprintf(st->owner, sizeof st->owner, "%s", s->replica);
  } else {
    char host[64] = "", uuid[CRYPTO_UUID_LEN + 1];
    gethostname(host, sizeof host - 1);
    crypto_uuid_v4(uuid);
    snprintf(st->owner, sizeof st->owner, "%s:%d:%.8s", *host ? host : "scheduler", (int)getpid(), uuid);
  }
  /* service_run sets the secret after init; the ticker calls targets from its first tick. */
  rpc_client_set_identity_secret(common->identity_secret);
  sch_metrics_init();
  log_info("scheduler: replica %s, lease %lld s, tick %lld ms, clock offset %lld s%s", st->owner,
           (long long)s->lease_s, (long long)s->tick_ms, (long long)s->clock_offset_s,
           s->hold_ms ? ", holding each run (test setting)" : "");
  return sch_ticker_start(st);
}

static void scheduler_stop(void *p) {
  (void)p;
  sch_ticker_stop();
}

int main(void) {
  sch_settings *s = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_TICKET_GRPC", CFG_STRING, "127.0.0.1:50054", false, 0, 0, &s->ticket_addr,
       "the ticket service (expiries, pass activation, expiring-soon notices, promotions)"},
      {"METRO_PAYMENT_GRPC", CFG_STRING, "127.0.0.1:50056", false, 0, 0, &s->payment_addr,
       "the payment service (refund retries)"},
      {"METRO_CONTROL_GRPC", CFG_STRING, "127.0.0.1:50060", false, 0, 0, &s->control_addr,
       "the control service (schedule generation)"},
      {"METRO_PUBLIC_GRPC", CFG_STRING, "127.0.0.1:50055", false, 0, 0, &s->public_addr,
       "the public service (cache refresh)"},
      {"METRO_REPORT_GRPC", CFG_STRING, "127.0.0.1:50059", false, 0, 0, &s->report_addr,
       "the report service (report schedules)"},
      {"METRO_JOB_LEASE_S", CFG_INT, "300", false, 1, 86400, &s->lease_s,
       "a claimed run belongs to its replica for this long; after it, another replica takes it over"},
      {"METRO_JOB_TIMEOUT_MS", CFG_INT, "120000", false, 100, 86400000, &s->call_timeout_ms,
       "deadline of a run's call to its target (shorter than the lease; a call also ends 2 s before the lease does)"},
      {"METRO_JOB_MAX_ATTEMPTS", CFG_INT, "3", false, 1, 100, &s->max_attempts,
       "a run whose lease expired this many times is recorded failed instead of run again"},
      {"METRO_SCHEDULER_TICK_MS", CFG_INT, "1000", false, 50, 60000, &s->tick_ms,
       "how often due runs and expired leases are looked for"},
      {"METRO_SCHEDULER_TICKER", CFG_BOOL, "true", false, 0, 0, &s->ticker,
       "false: run nothing on schedule, only triggered runs (the test stacks, whose tests call the jobs)"},
      {"METRO_SCHEDULER_CLOCK_OFFSET_S", CFG_INT, "0", false, -315360000, 315360000, &s->clock_offset_s,
       "tests: seconds added to the clock slots are computed against"},
      {"METRO_SCHEDULER_HOLD_MS", CFG_INT, "0", false, 0, 3600000, &s->hold_ms,
       "tests: pause between claiming a run and calling its target"},
      {"METRO_SCHEDULER_REPLICA", CFG_STRING, "", false, 0, 0, &s->replica,
       "this replica's name as lease owner (empty: host:pid:random)"},
  };
  service_def def = {
      .name = "scheduler",
      .default_grpc_addr = "127.0.0.1:50061",
      .default_metrics_port = 9111,
      .migrations = scheduler_migrations,
      .services = &scheduler_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = scheduler_init,
      .stop = scheduler_stop,
      .state = &state,
  };
  return service_run(&def);
}
