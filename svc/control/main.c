/* metro-control: the demand forecast and trip generation of every line (domain spec §16).
 * Serves metro.control.v1.ControlService, consumes ticket.used, publishes schedule.generated. */
#include <string.h>

#include "common/log.h"
#include "common/service.h"
#include "svc/control/control.h"

extern const pg_migration *const control_migrations;

static ct_state state;

static bool control_init(void *p, const service_settings *common) {
  (void)common;
  ct_state *st = p;
  ct_settings *s = &st->settings;
  if (s->min_headway_s > s->max_headway_s) {
    log_error("METRO_HEADWAY_MIN_S (%lld) is above METRO_HEADWAY_MAX_S (%lld)", (long long)s->min_headway_s,
              (long long)s->max_headway_s);
    return false;
  }
  st->rules = (sched_rules){.dwell_s = (int)s->dwell_s, .big_dwell_s = (int)s->big_dwell_s,
                            .big_interchange_lines = sched_default_rules.big_interchange_lines,
                            .turnaround_s = (int)s->turnaround_s};
  st->limits = (sched_limits){.load_factor_pct = (int)s->load_factor_pct, .min_headway_s = (int)s->min_headway_s,
                              .max_headway_s = (int)s->max_headway_s};
  pthread_mutex_init(&st->network.lock, NULL);
  log_info("control: transport at %s, load factor %lld %%, headways [%lld, %lld] s", s->transport_addr,
           (long long)s->load_factor_pct, (long long)s->min_headway_s, (long long)s->max_headway_s);
  return true;
}

int main(void) {
  ct_settings *s = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_TRANSPORT_GRPC", CFG_STRING, "127.0.0.1:50053", false, 0, 0, &s->transport_addr,
       "the transport service (lines, trains, BulkUpsertTrips)"},
      {"METRO_CONTROL_CALL_TIMEOUT_MS", CFG_INT, "5000", false, 50, 120000, &s->call_timeout_ms,
       "deadline of a read from transport"},
      {"METRO_CONTROL_UPSERT_TIMEOUT_MS", CFG_INT, "60000", false, 100, 600000, &s->upsert_timeout_ms,
       "deadline of one BulkUpsertTrips (one line and date)"},
      {"METRO_CONTROL_NETWORK_CACHE_MS", CFG_INT, "60000", false, 0, 86400000, &s->network_cache_ms,
       "how long the ticket.used consumer reuses the lines' stations"},
      {"METRO_DWELL_S", CFG_INT, "40", false, 0, 600, &s->dwell_s, "dwell at a station"},
      {"METRO_BIG_DWELL_S", CFG_INT, "75", false, 0, 600, &s->big_dwell_s, "dwell at stations on 3 or more lines"},
      {"METRO_TURNAROUND_S", CFG_INT, "600", false, 0, 7200, &s->turnaround_s, "turnaround at a terminus"},
      {"METRO_LOAD_FACTOR_PCT", CFG_INT, "70", false, 1, 200, &s->load_factor_pct,
       "share of a train's capacity a headway plans for (percent)"},
      {"METRO_HEADWAY_MIN_S", CFG_INT, "120", false, 30, 3600, &s->min_headway_s, "shortest headway"},
      {"METRO_HEADWAY_MAX_S", CFG_INT, "900", false, 30, 7200, &s->max_headway_s, "longest headway"},
  };
  const ev_consumer_config group = {.group = "control", .subs = ct_subscriptions, .n_subs = ct_n_subscriptions,
                                    .state = &state, .max_attempts = 8};
  service_def def = {
      .name = "control",
      .default_grpc_addr = "127.0.0.1:50060",
      .default_metrics_port = 9110,
      .migrations = control_migrations,
      .services = &control_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = control_init,
      .state = &state,
      .produces_events = true,
      .consumers = &group,
      .n_consumers = 1,
  };
  int rc = service_run(&def);
  ct_network_cache_destroy(&state);
  return rc;
}
