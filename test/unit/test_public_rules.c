/* The public service's rules without servers: which cached kinds and scopes each event
 * invalidates, how requests are validated (ids, dates, times, page tokens, quotes), paging
 * over a cached list, and the local calendar's date format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metro/events/v1/network_events.pb-c.h"
#include "metro/events/v1/schedule_events.pb-c.h"
#include "svc/public/public.h"

static rpc_ctx *new_ctx(void) {
  static rpc_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.arena = arena_create(4096);
  ctx.alloc = arena_protobuf_allocator(ctx.arena);
  return &ctx;
}

static bool has(const pub_invalidation *inv, int n, pub_kind k, const char *scope) {
  for (int i = 0; i < n; i++)
    if (inv[i].kind == k && ((!scope && !inv[i].scope) || (scope && inv[i].scope && !strcmp(scope, inv[i].scope))))
      return true;
  return false;
}

/* ---- invalidation ---- */

/* Quotes are priced over the network, so fares go with it; passes and discounts do not. */
static void network_catalog_changes_invalidate_every_network_kind_and_fares(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  ev.id = "ben-thanh";
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  const char *entities[] = {"station", "line", "line_stations", "network", "gtfs"};
  for (size_t e = 0; e < sizeof entities / sizeof entities[0]; e++) {
    ev.entity = (char *)entities[e];
    int n = pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv);
    assert_int_equal(n, 7);
    for (pub_kind k = PUB_KIND_STATIONS; k <= PUB_KIND_GTFS; k++) assert_true(has(inv, n, k, NULL));
    assert_true(has(inv, n, PUB_KIND_FARES, NULL));
    assert_false(has(inv, n, PUB_KIND_PASSES, NULL));
    assert_false(has(inv, n, PUB_KIND_DISCOUNTS, NULL));
  }
  arena_destroy(ctx->arena);
}

static void train_change_invalidates_timetables_only(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  ev.entity = "train";
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  int n = pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv);
  assert_int_equal(n, 3);
  assert_true(has(inv, n, PUB_KIND_TRIPS, NULL));
  assert_true(has(inv, n, PUB_KIND_DEPARTURES, NULL));
  assert_true(has(inv, n, PUB_KIND_GTFS, NULL));
  arena_destroy(ctx->arena);
}

static void ticket_catalog_changes_reach_fares_passes_and_discounts(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  ev.entity = "fare";
  int n = pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv);
  assert_int_equal(n, 1);
  assert_true(has(inv, n, PUB_KIND_FARES, NULL));
  ev.entity = "pass";
  n = pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv);
  assert_true(n == 1 && has(inv, n, PUB_KIND_PASSES, NULL));
  ev.entity = "discount"; /* quotes apply the discounts */
  n = pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv);
  assert_int_equal(n, 2);
  assert_true(has(inv, n, PUB_KIND_DISCOUNTS, NULL) && has(inv, n, PUB_KIND_FARES, NULL));
  arena_destroy(ctx->arena);
}

static void promotion_change_invalidates_nothing_public(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  ev.entity = "promotion";
  ev.id = "6f1c2d4e-0000-4000-8000-000000000001";
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  assert_int_equal(pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv), 0);
  arena_destroy(ctx->arena);
}

static void unknown_catalog_entity_invalidates_everything(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  ev.entity = "something-new";
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  int n = pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv);
  assert_int_equal(n, PUB_N_KINDS);
  arena_destroy(ctx->arena);
}

static void station_status_invalidates_stations_lines_journeys_feed_and_fares(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__StationDeactivated ev = METRO__EVENTS__V1__STATION_DEACTIVATED__INIT;
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  const char *types[] = {"station.deactivated", "station.status_changed"};
  for (int t = 0; t < 2; t++) {
    int n = pub_invalidations_for(ctx->arena, types[t], &ev.base, inv);
    assert_int_equal(n, 5);
    assert_true(has(inv, n, PUB_KIND_STATIONS, NULL));
    assert_true(has(inv, n, PUB_KIND_LINES, NULL));
    assert_true(has(inv, n, PUB_KIND_JOURNEYS, NULL));
    assert_true(has(inv, n, PUB_KIND_GTFS, NULL));
    assert_true(has(inv, n, PUB_KIND_FARES, NULL)); /* an inactive station cannot be quoted */
  }
  arena_destroy(ctx->arena);
}

static void schedule_generated_invalidates_one_line_date_and_its_departure_days(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__ScheduleGenerated ev = METRO__EVENTS__V1__SCHEDULE_GENERATED__INIT;
  ev.route_id = "tuyen-metro-so-1-ben-thanh-suoi-tien";
  ev.service_date = "2026-12-31";
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  int n = pub_invalidations_for(ctx->arena, "schedule.generated", &ev.base, inv);
  assert_int_equal(n, 4);
  assert_true(has(inv, n, PUB_KIND_TRIPS, "tuyen-metro-so-1-ben-thanh-suoi-tien:2026-12-31"));
  assert_true(has(inv, n, PUB_KIND_DEPARTURES, "2026-12-31"));
  assert_true(has(inv, n, PUB_KIND_DEPARTURES, "2027-01-01")); /* trips past midnight */
  assert_true(has(inv, n, PUB_KIND_GTFS, NULL));
  assert_false(has(inv, n, PUB_KIND_TRIPS, NULL));
  arena_destroy(ctx->arena);
}

static void trips_catalog_change_is_scoped_like_a_schedule(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  ev.entity = "trips";
  ev.id = "l1:2026-11-24";
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  int n = pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv);
  assert_int_equal(n, 4);
  assert_true(has(inv, n, PUB_KIND_TRIPS, "l1:2026-11-24"));
  assert_true(has(inv, n, PUB_KIND_DEPARTURES, "2026-11-25"));
  assert_false(has(inv, n, PUB_KIND_FARES, NULL)); /* timetables do not change prices */
  ev.entity = "network"; /* transport's seed and GTFS import */
  n = pub_invalidations_for(ctx->arena, "catalog.changed", &ev.base, inv);
  assert_int_equal(n, 7);
  arena_destroy(ctx->arena);
}

static void malformed_schedule_event_invalidates_timetables_whole(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__ScheduleGenerated ev = METRO__EVENTS__V1__SCHEDULE_GENERATED__INIT;
  ev.route_id = "L1:*";
  ev.service_date = "2026-02-30";
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  int n = pub_invalidations_for(ctx->arena, "schedule.generated", &ev.base, inv);
  assert_int_equal(n, 3);
  assert_true(has(inv, n, PUB_KIND_TRIPS, NULL));
  assert_true(has(inv, n, PUB_KIND_DEPARTURES, NULL));
  arena_destroy(ctx->arena);
}

static void other_event_types_invalidate_nothing(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  assert_int_equal(pub_invalidations_for(ctx->arena, "user.created", &ev.base, inv), 0);
  arena_destroy(ctx->arena);
}

/* ---- validation ---- */

static void ids_must_be_present_and_slugs(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  assert_true(rpc_ok(pub_check_id(ctx, "stationId", "ben-thanh", "STATION_NOT_FOUND", "station")));
  assert_true(rpc_ok(pub_check_id(ctx, "stationId", "23-thang-9", "STATION_NOT_FOUND", "station")));
  rpc_status st = pub_check_id(ctx, "stationId", "", "STATION_NOT_FOUND", "station");
  assert_int_equal(st.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(st.reason, "FIELD_REQUIRED");
  const char *bad[] = {"Ben-Thanh", "ben--thanh", "-ben", "ben-", "ben:thanh", "bến", "a b",
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    st = pub_check_id(ctx, "stationId", bad[i], "STATION_NOT_FOUND", "station");
    assert_int_equal(st.code, GRPC_STATUS_NOT_FOUND);
    assert_string_equal(st.reason, "STATION_NOT_FOUND");
  }
  arena_destroy(ctx->arena);
}

static void dates_are_calendar_dates(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  long day = -1;
  assert_true(rpc_ok(pub_check_date(ctx, "date", "2026-11-24", false, &day)));
  assert_int_equal(day, 20781);
  const char *bad[] = {"2026-02-30", "26-11-24", "2026/11/24", "2026-11-24x", "tomorrow", "2026-1-1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rpc_status st = pub_check_date(ctx, "date", bad[i], false, &day);
    assert_string_equal(st.reason, "INVALID_DATE");
    assert_string_equal(st.field, "date");
  }
  assert_string_equal(pub_check_date(ctx, "date", "", false, &day).reason, "FIELD_REQUIRED");
  day = 7;
  assert_true(rpc_ok(pub_check_date(ctx, "date", "", true, &day)));
  assert_int_equal(day, 7);
  arena_destroy(ctx->arena);
}

static void clock_times_allow_past_midnight_and_reject_garbage(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  int s;
  assert_true(rpc_ok(pub_check_clock(ctx, "time", "08:30", &s)));
  assert_int_equal(s, 8 * 3600 + 30 * 60);
  assert_true(rpc_ok(pub_check_clock(ctx, "time", "24:10:05", &s)));
  assert_int_equal(s, 24 * 3600 + 10 * 60 + 5);
  const char *bad[] = {"8:30", "08:60", "48:00", "08:30:60", "08-30", "08:30:", "noon", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_string_equal(pub_check_clock(ctx, "time", bad[i], &s).reason, "INVALID_TIME");
  arena_destroy(ctx->arena);
}

static void transport_page_tokens_are_bounded_base64url(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  assert_true(rpc_ok(pub_check_foreign_token(ctx, "")));
  assert_true(rpc_ok(pub_check_foreign_token(ctx, "bzEwMA")));
  assert_string_equal(pub_check_foreign_token(ctx, "a:b").reason, "INVALID_PAGE_TOKEN");
  char long_token[80];
  memset(long_token, 'a', sizeof long_token - 1);
  long_token[sizeof long_token - 1] = '\0';
  assert_string_equal(pub_check_foreign_token(ctx, long_token).reason, "INVALID_PAGE_TOKEN");
  arena_destroy(ctx->arena);
}

static void whole_list_pages_walk_to_the_end(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  size_t off, n;
  assert_true(rpc_ok(pub_page(ctx, 0, "", 103, &off, &n)));
  assert_true(off == 0 && n == 103);
  assert_string_equal(pub_next_token(ctx, off, n, 103), "");
  size_t seen = 0;
  const char *token = "";
  for (int pages = 0; pages < 10; pages++) {
    assert_true(rpc_ok(pub_page(ctx, 40, token, 103, &off, &n)));
    assert_int_equal(off, seen);
    seen += n;
    token = pub_next_token(ctx, off, n, 103);
    if (!*token) break;
  }
  assert_int_equal(seen, 103);
  assert_string_equal(pub_page(ctx, -1, "", 103, &off, &n).reason, "INVALID_PAGE_SIZE");
  assert_string_equal(pub_page(ctx, 501, "", 103, &off, &n).reason, "INVALID_PAGE_SIZE");
  assert_string_equal(pub_page(ctx, 10, "bogus!", 103, &off, &n).reason, "INVALID_PAGE_TOKEN");
  assert_string_equal(pub_page(ctx, 10, "bzEw", 103, &off, &n).reason, "INVALID_PAGE_TOKEN"); /* "o10": transport's */
  arena_destroy(ctx->arena);
}

/* A valid quote: two stations, one way, 2 adults and a child. */
static Metro__Ticket__V1__QuoteFareRequest quote_request(Metro__Ticket__V1__PassengerCounts *counts) {
  Metro__Ticket__V1__QuoteFareRequest r = METRO__TICKET__V1__QUOTE_FARE_REQUEST__INIT;
  Metro__Ticket__V1__PassengerCounts c = METRO__TICKET__V1__PASSENGER_COUNTS__INIT;
  c.adult = 2;
  c.child = 1;
  *counts = c;
  r.origin_station_id = "ben-thanh";
  r.destination_station_id = "thao-dien";
  r.trip_type = "oneway";
  r.passengers = counts;
  return r;
}

static void assert_rejected(rpc_status st, grpc_status_code code, const char *reason, const char *field) {
  assert_int_equal(st.code, code);
  assert_string_equal(st.reason, reason);
  assert_non_null(st.field);
  assert_string_equal(st.field, field);
}

static void quotes_need_two_different_stations(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Ticket__V1__PassengerCounts c;
  Metro__Ticket__V1__QuoteFareRequest r = quote_request(&c);
  assert_true(rpc_ok(pub_check_quote(ctx, &r)));
  r.origin_station_id = "";
  assert_rejected(pub_check_quote(ctx, &r), GRPC_STATUS_INVALID_ARGUMENT, "FIELD_REQUIRED", "originStationId");
  r.origin_station_id = "Ben Thanh";
  assert_rejected(pub_check_quote(ctx, &r), GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "originStationId");
  r.origin_station_id = "ben-thanh";
  r.destination_station_id = "thao-dien:*";
  assert_rejected(pub_check_quote(ctx, &r), GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "destinationStationId");
  r.destination_station_id = "ben-thanh";
  assert_rejected(pub_check_quote(ctx, &r), GRPC_STATUS_INVALID_ARGUMENT, "SAME_STATION", "destinationStationId");
  arena_destroy(ctx->arena);
}

static void quotes_are_one_way_or_return(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Ticket__V1__PassengerCounts c;
  Metro__Ticket__V1__QuoteFareRequest r = quote_request(&c);
  r.trip_type = "return";
  assert_true(rpc_ok(pub_check_quote(ctx, &r)));
  const char *bad[] = {"", "one_way", "Oneway", "monthly_pass", "return:x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r.trip_type = (char *)bad[i];
    assert_rejected(pub_check_quote(ctx, &r), GRPC_STATUS_INVALID_ARGUMENT, "INVALID_TRIP_TYPE", "tripType");
  }
  arena_destroy(ctx->arena);
}

static Metro__Ticket__V1__PassengerCounts people(int32_t adult, int32_t child, int32_t teenager, int32_t student,
                                               int32_t senior, int32_t elder) {
  Metro__Ticket__V1__PassengerCounts c = METRO__TICKET__V1__PASSENGER_COUNTS__INIT;
  c.adult = adult;
  c.child = child;
  c.teenager = teenager;
  c.student = student;
  c.senior = senior;
  c.elder = elder;
  return c;
}

static void quotes_are_for_1_to_20_people(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Ticket__V1__PassengerCounts c;
  Metro__Ticket__V1__QuoteFareRequest r = quote_request(&c);
  Metro__Ticket__V1__PassengerCounts good[] = {people(0, 0, 0, 0, 0, 20), people(5, 5, 2, 2, 1, 5),
                                               people(0, 1, 0, 0, 0, 0)};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    r.passengers = &good[i];
    assert_true(rpc_ok(pub_check_quote(ctx, &r)));
  }
  r.passengers = NULL;
  assert_rejected(pub_check_quote(ctx, &r), GRPC_STATUS_INVALID_ARGUMENT, "INVALID_PASSENGER_COUNT", "passengers");
  /* nobody; 21 in all; a negative count offset by others; one count above 20; overflow bait */
  Metro__Ticket__V1__PassengerCounts bad[] = {
      people(0, 0, 0, 0, 0, 0),          people(11, 10, 0, 0, 0, 0),        people(3, 0, 0, 0, -1, 0),
      people(0, 0, 0, 21, 0, 0),         people(INT32_MAX, INT32_MAX, 0, 0, 0, 0),
      people(1, 0, INT32_MIN, 0, 0, 0),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r.passengers = &bad[i];
    assert_rejected(pub_check_quote(ctx, &r), GRPC_STATUS_INVALID_ARGUMENT, "INVALID_PASSENGER_COUNT", "passengers");
  }
  arena_destroy(ctx->arena);
}

static void quote_checks_stations_before_trip_type_and_counts(void **state) {
  (void)state;
  rpc_ctx *ctx = new_ctx();
  Metro__Ticket__V1__QuoteFareRequest r = METRO__TICKET__V1__QUOTE_FARE_REQUEST__INIT; /* all empty */
  r.origin_station_id = "ben-thanh";
  r.destination_station_id = "ben-thanh";
  assert_string_equal(pub_check_quote(ctx, &r).reason, "SAME_STATION");
  r.destination_station_id = "thao-dien";
  assert_string_equal(pub_check_quote(ctx, &r).reason, "INVALID_TRIP_TYPE");
  r.trip_type = "oneway";
  assert_string_equal(pub_check_quote(ctx, &r).reason, "INVALID_PASSENGER_COUNT");
  arena_destroy(ctx->arena);
}

static void day_numbers_format_as_iso_dates(void **state) {
  (void)state;
  char out[11];
  pub_day_format(0, out);
  assert_string_equal(out, "1970-01-01");
  pub_day_format(20781, out);
  assert_string_equal(out, "2026-11-24");
  pub_day_format(20819, out);
  assert_string_equal(out, "2027-01-01");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(network_catalog_changes_invalidate_every_network_kind_and_fares),
      cmocka_unit_test(train_change_invalidates_timetables_only),
      cmocka_unit_test(ticket_catalog_changes_reach_fares_passes_and_discounts),
      cmocka_unit_test(promotion_change_invalidates_nothing_public),
      cmocka_unit_test(unknown_catalog_entity_invalidates_everything),
      cmocka_unit_test(station_status_invalidates_stations_lines_journeys_feed_and_fares),
      cmocka_unit_test(schedule_generated_invalidates_one_line_date_and_its_departure_days),
      cmocka_unit_test(trips_catalog_change_is_scoped_like_a_schedule),
      cmocka_unit_test(malformed_schedule_event_invalidates_timetables_whole),
      cmocka_unit_test(other_event_types_invalidate_nothing),
      cmocka_unit_test(ids_must_be_present_and_slugs),
      cmocka_unit_test(dates_are_calendar_dates),
      cmocka_unit_test(clock_times_allow_past_midnight_and_reject_garbage),
      cmocka_unit_test(transport_page_tokens_are_bounded_base64url),
      cmocka_unit_test(whole_list_pages_walk_to_the_end),
      cmocka_unit_test(quotes_need_two_different_stations),
      cmocka_unit_test(quotes_are_one_way_or_return),
      cmocka_unit_test(quotes_are_for_1_to_20_people),
      cmocka_unit_test(quote_checks_stations_before_trip_type_and_counts),
      cmocka_unit_test(day_numbers_format_as_iso_dates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
