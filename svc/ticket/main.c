/* metro-ticket: fares, passenger discounts, passes, promotions, quotes, purchases and the
 * ticket lifecycle (domain spec §5-§9). Serves metro.ticket.v1.TicketService, consumes the
 * payment events and publishes ticket.* and catalog.changed through its outbox. */
#include "common/service.h"
#include "svc/ticket/ticket.h"
#include "svc/ticket/ticket_metrics.h"

extern const pg_migration *const ticket_migrations;

static tk_state state;

static bool ticket_init(void *st, const service_settings *common) {
  (void)common;
  tk_metrics_init();
  return tk_qr_load_keys(st);
}

int main(void) {
  tk_settings *t = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_TRANSPORT_GRPC", CFG_STRING, "127.0.0.1:50053", false, 0, 0, &t->transport_addr,
       "the transport service (journey planner, lines)"},
      {"METRO_USER_GRPC", CFG_STRING, "127.0.0.1:50052", false, 0, 0, &t->user_addr,
       "the user service (passenger profiles)"},
      {"METRO_AUTH_GRPC", CFG_STRING, "127.0.0.1:50051", false, 0, 0, &t->auth_addr,
       "the auth service (email verification)"},
      {"METRO_TICKET_CALL_TIMEOUT_MS", CFG_INT, "3000", false, 50, 60000, &t->call_timeout_ms,
       "deadline of a call to transport, user or auth"},
      {"METRO_BASE_FARE", CFG_INT, "10000", false, 1000, 1000000, &t->default_base_price,
       "base fare of a line without a price of its own (VND)"},
      {"METRO_RETURN_FACTOR_PERCENT", CFG_INT, "150", false, 100, 300, &t->return_factor_percent,
       "price of a return ticket as a percentage of the one-way journey"},
      {"METRO_PAYMENT_DEADLINE_S", CFG_INT, "900", false, 10, 86400, &t->payment_deadline_s,
       "time to pay a pending ticket"},
      {"METRO_SINGLE_VALIDITY_DAYS", CFG_INT, "30", false, 1, 365, &t->single_validity_days,
       "validity of single and return tickets from payment"},
      {"METRO_PASS_AUTO_ACTIVATE_DAYS", CFG_INT, "30", false, 0, 365, &t->auto_activate_days,
       "a paid pass activates itself this long after purchase"},
      {"METRO_OWNER_REFUND_PERCENT", CFG_INT, "100", false, 0, 100, &t->owner_refund_percent,
       "refund of an owner's cancellation of an unused paid ticket"},
      {"METRO_REQUIRE_VERIFIED_EMAIL", CFG_BOOL, "true", false, 0, 0, &t->require_verified_email,
       "purchases need a verified email (403 EMAIL_NOT_VERIFIED)"},
      {"METRO_QR_KEY_FILE", CFG_STRING, NULL, true, 0, 0, &t->qr_key_file,
       "Ed25519 PEM key that signs QR tokens (openssl genpkey -algorithm ed25519)"},
      {"METRO_QR_KID", CFG_STRING, "qr-1", false, 0, 0, &t->qr_kid, "key id of the QR signing key"},
      {"METRO_QR_PREVIOUS_KEY_FILES", CFG_STRING, "", false, 0, 0, &t->qr_previous_key_files,
       "retired QR keys still verified and published while their tickets can tap: kid=path,kid=path"},
      {"METRO_ABUSE_MIN_INTERVAL_MS", CFG_INT, "10000", false, 0, 600000, &t->abuse_min_interval_ms,
       "a tap this soon after the previous one is abuse (0 turns the rule off)"},
      {"METRO_DUPLICATE_TAP_MS", CFG_INT, "10000", false, 0, 600000, &t->duplicate_tap_ms,
       "an identical repeat of an accepted tap at the same gate this soon is answered as a duplicate"},
      {"METRO_ABUSE_WINDOW_MS", CFG_INT, "60000", false, 1000, 3600000, &t->abuse_window_ms,
       "the window in which a pass may tap METRO_ABUSE_WINDOW_MAX times"},
      {"METRO_ABUSE_WINDOW_MAX", CFG_INT, "3", false, 1, TK_MAX_RECENT_TAPS, &t->abuse_window_max,
       "taps a pass may make per window"},
      {"METRO_OPEN_ENTRY_MIN", CFG_INT, "180", false, 1, 1440, &t->open_entry_min,
       "a pass's entry without an exit stops blocking the next entry after this"},
      {"METRO_CATALOG_CACHE_MS", CFG_INT, "1000", false, 0, 600000, &t->catalog_cache_ms,
       "how stale another replica's fare, pass or discount change may be in this replica's prices (0 = none)"},
      {"METRO_EXPIRING_SOON_DAYS", CFG_INT, "3", false, 1, 30, &t->expiring_soon_days,
       "a pass ending within this many days gets its expiring-soon notice (once)"},
      {"METRO_STATION_CACHE_MS", CFG_INT, "5000", false, 0, 600000, &t->station_cache_ms,
       "how long taps use a station's state from transport before asking again"},
  };
  const ev_consumer_config group = {
      .group = "ticket", .subs = tk_subscriptions, .n_subs = tk_n_subscriptions, .state = &state};
  service_def def = {
      .name = "ticket",
      .default_grpc_addr = "127.0.0.1:50054",
      .default_metrics_port = 9104,
      .migrations = ticket_migrations,
      .services = &ticket_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = ticket_init,
      .state = &state,
      .produces_events = true,
      .consumers = &group,
      .n_consumers = 1,
  };
  return service_run(&def);
}
