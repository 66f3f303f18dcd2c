/* The decision on one tap (svc/ticket/gate_rules.c): every refusal of domain spec §10/§11.3
 * in its order, full rides of a single, a return and a pass, duplicates and the abuse rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "svc/ticket/ticket.h"

#define S 1000000LL
static const tk_gate_rules rules = {.min_interval_us = 10 * S,
                                    .burst_window_us = 60 * S,
                                    .burst_max = 3,
                                    .open_entry_us = 180 * 60 * S,
                                    .duplicate_us = 10 * S};
static const int64_t NOW = 1800000000LL * S;

static tk_gate_state oneway(void) {
  return (tk_gate_state){.status = TK_ACTIVE,
                         .type = TK_ONEWAY,
                         .journeys_allowed = 1,
                         .entry_station_id = "",
                         .origin = "ben-thanh",
                         .destination = "thao-dien",
                         .valid_from_us = NOW - 3600 * S,
                         .valid_until_us = NOW + 86400 * S,
                         .last_accept_gate = ""};
}

static tk_tap_input tap(tk_direction dir, const char *station) {
  return (tk_tap_input){.direction = dir,
                        .station_id = station,
                        .gate_id = "g1",
                        .station_active = true,
                        .station_open = true,
                        .code = TK_CODE_STATIC,
                        .now_us = NOW};
}

static const char *reason(const tk_gate_state *t, const tk_tap_input *in) {
  tk_tap_decision d;
  tk_tap_decide(&rules, t, in, &d);
  return d.accepted ? "ACCEPTED" : d.reason;
}

/* Applies an accepted decision to the state as gates.c would. */
static void apply(tk_gate_state *t, const tk_tap_input *in, const tk_tap_decision *d) {
  if (d->counted) t->last_tap_us = in->now_us;
  if (!d->accepted || d->duplicate) return;
  t->status = d->status;
  t->inside = d->inside;
  t->journeys_completed = d->journeys_completed;
  if (in->direction == TK_ENTRY) {
    t->entry_station_id = in->station_id;
    t->entry_at_us = in->now_us;
  }
  t->last_accept_gate = in->gate_id;
  t->last_accept_direction = in->direction;
  t->last_accept_us = in->now_us;
}

static void test_a_oneway_ride_ends_used(void **state) {
  (void)state;
  tk_gate_state t = oneway();
  tk_tap_input in = tap(TK_ENTRY, "ben-thanh");
  tk_tap_decision d;
  tk_tap_decide(&rules, &t, &in, &d);
  assert_true(d.accepted);
  assert_true(d.inside);
  apply(&t, &in, &d);
  in = tap(TK_EXIT, "thao-dien");
  in.now_us = NOW + 900 * S;
  tk_tap_decide(&rules, &t, &in, &d);
  assert_true(d.accepted);
  assert_true(d.journey_completed);
  assert_int_equal(d.status, TK_USED);
  assert_int_equal(tk_journeys_remaining(TK_ONEWAY, 1, d.journeys_completed), 0);
}

static void test_a_return_rides_there_and_back(void **state) {
  (void)state;
  tk_gate_state t = oneway();
  t.type = TK_RETURN;
  t.journeys_allowed = 2;
  const char *legs[][2] = {{"ben-thanh", "thao-dien"}, {"thao-dien", "ben-thanh"}};
  for (int leg = 0; leg < 2; leg++) {
    tk_tap_input in = tap(TK_ENTRY, legs[leg][0]);
    in.now_us = NOW + (leg * 2) * 1000 * S;
    tk_tap_decision d;
    tk_gate_state wrong = t;
    tk_tap_input bad = in;
    bad.station_id = legs[leg][1];
    assert_string_equal(reason(&wrong, &bad), "WRONG_ENTRY_STATION");
    tk_tap_decide(&rules, &t, &in, &d);
    assert_true(d.accepted);
    apply(&t, &in, &d);
    in = tap(TK_EXIT, legs[leg][1]);
    in.now_us = NOW + (leg * 2 + 1) * 1000 * S;
    tk_tap_decide(&rules, &t, &in, &d);
    assert_true(d.accepted);
    apply(&t, &in, &d);
  }
  assert_int_equal(t.status, TK_USED);
  assert_int_equal(t.journeys_completed, 2);
}

static void test_status_refusals(void **state) {
  (void)state;
  static const struct {
    tk_status status;
    const char *entry, *exit;
  } rows[] = {
      {TK_PENDING_PAYMENT, "TICKET_NOT_ACTIVE", "TICKET_NOT_ACTIVE"},
      {TK_CANCELLED, "TICKET_NOT_ACTIVE", "TICKET_NOT_ACTIVE"},
      {TK_REFUNDED, "TICKET_NOT_ACTIVE", "TICKET_NOT_ACTIVE"},
      {TK_USED, "TICKET_USED", "TICKET_USED"},
      {TK_EXPIRED, "TICKET_EXPIRED", "TICKET_EXPIRED"},
      {TK_ABUSED, "ROTATING_CODE_REQUIRED", "ROTATING_CODE_REQUIRED"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    tk_gate_state t = oneway();
    t.status = rows[i].status;
    tk_tap_input in = tap(TK_ENTRY, "ben-thanh");
    assert_string_equal(reason(&t, &in), rows[i].entry);
    t.inside = true;
    in = tap(TK_EXIT, "thao-dien");
    assert_string_equal(reason(&t, &in), rows[i].exit);
  }
}

static void test_rotating_codes(void **state) {
  (void)state;
  tk_gate_state t = oneway();
  t.status = TK_ABUSED;
  tk_tap_input in = tap(TK_ENTRY, "ben-thanh");
  in.code = TK_CODE_BAD;
  assert_string_equal(reason(&t, &in), "ROTATING_CODE_INVALID");
  in.code = TK_CODE_REPLAYED;
  assert_string_equal(reason(&t, &in), "ROTATING_CODE_REPLAYED");
  in.code = TK_CODE_FRESH;
  assert_string_equal(reason(&t, &in), "ACCEPTED"); /* validity and journey state are kept */
  t.status = TK_ACTIVE;
  in.code = TK_CODE_BAD; /* a wrong rotating code is refused on any ticket */
  assert_string_equal(reason(&t, &in), "ROTATING_CODE_INVALID");
}

static void test_entry_checks_in_order(void **state) {
  (void)state;
  tk_gate_state t = oneway();
  tk_tap_input in = tap(TK_ENTRY, "ben-thanh");
  in.station_active = false;
  assert_string_equal(reason(&t, &in), "STATION_INACTIVE");
  in.station_active = true;
  in.station_open = false;
  assert_string_equal(reason(&t, &in), "STATION_CLOSED");
  in.station_open = true;
  t.valid_from_us = NOW + S;
  assert_string_equal(reason(&t, &in), "NOT_YET_VALID");
  t.valid_from_us = NOW - S;
  t.valid_until_us = NOW - 1;
  assert_string_equal(reason(&t, &in), "TICKET_EXPIRED");
  t = oneway();
  t.inside = true;
  assert_string_equal(reason(&t, &in), "ANTI_PASSBACK");
  t.inside = false;
  in.station_id = "ba-son";
  assert_string_equal(reason(&t, &in), "WRONG_ENTRY_STATION");
}

static void test_exits(void **state) {
  (void)state;
  tk_gate_state t = oneway();
  tk_tap_input in = tap(TK_EXIT, "thao-dien");
  assert_string_equal(reason(&t, &in), "NO_ENTRY_RECORDED");
  t.inside = true;
  t.entry_station_id = "ben-thanh";
  in.station_id = "an-phu";
  tk_tap_decision d;
  tk_tap_decide(&rules, &t, &in, &d);
  assert_string_equal(d.reason, "WRONG_EXIT_STATION");
  assert_string_equal(d.expected_exit, "thao-dien");
  /* Exits need no open station and no validity left. */
  in.station_id = "thao-dien";
  in.station_open = in.station_active = false;
  t.valid_until_us = NOW - S;
  assert_string_equal(reason(&t, &in), "ACCEPTED");
}

static void test_abuse_rules(void **state) {
  (void)state;
  tk_gate_state t = oneway();
  t.last_tap_us = NOW - 10 * S; /* 10 s exactly: still too soon */
  tk_tap_input in = tap(TK_ENTRY, "ben-thanh");
  tk_tap_decision d;
  tk_tap_decide(&rules, &t, &in, &d);
  assert_string_equal(d.reason, "ABUSE_DETECTED");
  assert_true(d.becomes_abused && d.counted);
  assert_int_equal(d.status, TK_ABUSED);
  t.last_tap_us = NOW - 10 * S - 1;
  assert_string_equal(reason(&t, &in), "ACCEPTED");
  /* Passes: a fourth tap within the window. */
  tk_gate_state p = oneway();
  p.type = TK_MONTHLY_PASS;
  p.journeys_allowed = 0;
  p.taps_last_window = 3;
  assert_string_equal(reason(&p, &in), "ABUSE_DETECTED");
  p.taps_last_window = 2;
  assert_string_equal(reason(&p, &in), "ACCEPTED");
}

static void test_duplicates_are_answered_and_not_counted(void **state) {
  (void)state;
  tk_gate_state t = oneway();
  tk_tap_input in = tap(TK_ENTRY, "ben-thanh");
  tk_tap_decision d;
  tk_tap_decide(&rules, &t, &in, &d);
  apply(&t, &in, &d);
  in.now_us = NOW + 2 * S;
  tk_tap_decide(&rules, &t, &in, &d);
  assert_true(d.accepted && d.duplicate);
  assert_false(d.counted);
  /* A repeat on a ticket flagged meanwhile must show a fresh code: no duplicate for a static
   * token (a screenshot), nor for a rotating code other than the one that tap used. */
  tk_gate_state abused = t;
  abused.status = TK_ABUSED;
  tk_tap_decide(&rules, &abused, &in, &d);
  assert_false(d.duplicate);
  assert_string_equal(d.reason, "ROTATING_CODE_REQUIRED");
  in.code = TK_CODE_REPLAYED;
  in.repeats_last_code = true;
  tk_tap_decide(&rules, &abused, &in, &d);
  assert_true(d.accepted && d.duplicate);
  in.repeats_last_code = false;
  tk_tap_decide(&rules, &abused, &in, &d);
  assert_string_equal(d.reason, "ROTATING_CODE_REPLAYED");
  in.code = TK_CODE_STATIC;
  in.gate_id = "g2"; /* another gate: a real second entry attempt */
  tk_tap_decide(&rules, &t, &in, &d);
  assert_false(d.accepted);
  assert_string_equal(d.reason, "ABUSE_DETECTED");
}

static void test_passes_activate_on_entry_and_open_entries_time_out(void **state) {
  (void)state;
  tk_gate_state p = oneway();
  p.type = TK_MONTHLY_PASS;
  p.journeys_allowed = 0;
  p.status = TK_INACTIVE;
  p.valid_from_us = p.valid_until_us = 0;
  tk_tap_input in = tap(TK_EXIT, "an-phu");
  assert_string_equal(reason(&p, &in), "NO_ENTRY_RECORDED");
  in = tap(TK_ENTRY, "an-phu");
  tk_tap_decision d;
  tk_tap_decide(&rules, &p, &in, &d);
  assert_true(d.accepted && d.activates_pass);
  assert_int_equal(d.status, TK_ACTIVE);
  p = oneway();
  p.type = TK_MONTHLY_PASS;
  p.journeys_allowed = 0;
  p.inside = true;
  p.entry_at_us = NOW - 180 * 60 * S;
  assert_string_equal(reason(&p, &in), "ANTI_PASSBACK");
  p.entry_at_us = NOW - 180 * 60 * S - 1;
  assert_string_equal(reason(&p, &in), "ACCEPTED");
  in = tap(TK_EXIT, "ba-son"); /* any station */
  assert_string_equal(reason(&p, &in), "ACCEPTED");
  assert_int_equal(tk_journeys_remaining(TK_MONTHLY_PASS, 0, 5), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_oneway_ride_ends_used),
      cmocka_unit_test(test_a_return_rides_there_and_back),
      cmocka_unit_test(test_status_refusals),
      cmocka_unit_test(test_rotating_codes),
      cmocka_unit_test(test_entry_checks_in_order),
      cmocka_unit_test(test_exits),
      cmocka_unit_test(test_abuse_rules),
      cmocka_unit_test(test_duplicates_are_answered_and_not_counted),
      cmocka_unit_test(test_passes_activate_on_entry_and_open_entries_time_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
