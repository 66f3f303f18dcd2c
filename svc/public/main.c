/* metro-public: the read side riders' apps use without logging in (domain spec §18).
 * Serves metro.public.v1.PublicService from a Redis cache filled from the transport and
 * ticket services, and consumes the network, schedule and catalog events that invalidate it. */
#include "common/service.h"
#include "svc/public/public.h"

extern const pg_migration *const public_migrations;

static pub_state state;

static bool public_init(void *st, const service_settings *common) {
  (void)common;
  const pub_settings *s = &((pub_state *)st)->settings;
  pub_cache_settings cache = {.ttl_s = (int)s->cache_ttl_s, .stale_ttl_s = (int)s->stale_ttl_s};
  pub_cache_init(&cache);
  return true;
}

int main(void) {
  pub_settings *p = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_TRANSPORT_GRPC", CFG_STRING, "127.0.0.1:50053", false, 0, 0, &p->transport_addr,
       "the transport service's gRPC address"},
      {"METRO_PUBLIC_TRANSPORT_TIMEOUT_MS", CFG_INT, "2000", false, 50, 60000, &p->transport_timeout_ms,
       "deadline of a read from transport; past it the last cached value is served"},
      {"METRO_PUBLIC_GTFS_TIMEOUT_MS", CFG_INT, "30000", false, 100, 120000, &p->gtfs_timeout_ms,
       "deadline of a GTFS export from transport"},
      {"METRO_TICKET_GRPC", CFG_STRING, "127.0.0.1:50054", false, 0, 0, &p->ticket_addr,
       "the ticket service's gRPC address (fares, quotes, passes, passenger discounts)"},
      {"METRO_PUBLIC_TICKET_TIMEOUT_MS", CFG_INT, "3000", false, 50, 60000, &p->ticket_timeout_ms,
       "deadline of a read from ticket (a quote includes ticket's own call to transport); past it the last "
       "cached value is served"},
      {"METRO_PUBLIC_CACHE_TTL_S", CFG_INT, "3600", false, 1, 86400, &p->cache_ttl_s,
       "how long a cached answer is served without asking transport or ticket again"},
      {"METRO_PUBLIC_STALE_TTL_S", CFG_INT, "604800", false, 60, 2592000, &p->stale_ttl_s,
       "how long the last answer is kept to be served while transport or ticket is unreachable"},
      {"METRO_GTFS_INCLUDE_PLANNED", CFG_BOOL, "false", false, 0, 0, &p->gtfs_include_planned,
       "publish the lines whose status is planned in the GTFS feeds (/gtfs/metro-hcmc.zip, /v1/gtfs) too"},
      {"METRO_GTFS_FEED_DAYS", CFG_INT, "30", false, 1, 31, &p->gtfs_feed_days,
       "days of service in GET /gtfs/metro-hcmc.zip, today first"},
  };
  const ev_consumer_config group = {
      .group = "public", .subs = pub_subscriptions, .n_subs = pub_n_subscriptions, .state = &state};
  service_def def = {
      .name = "public",
      .default_grpc_addr = "127.0.0.1:50055",
      .default_metrics_port = 9105,
      .migrations = public_migrations,
      .services = &public_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = public_init,
      .state = &state,
      .consumers = &group,
      .n_consumers = 1,
  };
  return service_run(&def);
}
