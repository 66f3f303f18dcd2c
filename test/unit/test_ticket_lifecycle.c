/* The ticket state machine (svc/ticket/lifecycle.c) against the domain spec §9.1 and §9.2:
 * every status x trigger x (single, pass) x tapped, allowed and refused, plus the names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "svc/ticket/ticket.h"

#define NO (-1) /* refused: INVALID_STATUS_TRANSITION */
#define PEND TK_PENDING_PAYMENT
#define ACT TK_ACTIVE
#define INACT TK_INACTIVE
#define USED TK_USED
#define EXP TK_EXPIRED
#define CANC TK_CANCELLED
#define REF TK_REFUNDED
#define ABU TK_ABUSED

/* The expected target per (status, trigger), in four columns:
 * oneway untapped, oneway tapped, monthly_pass untapped, monthly_pass tapped. */
static const struct {
  tk_status from;
  tk_trigger on;
  int to[4];
} expected[] = {
    {PEND, TK_ON_PAYMENT_COMPLETED, {ACT, ACT, INACT, INACT}},
    {PEND, TK_ON_PAYMENT_FAILED, {CANC, CANC, CANC, CANC}},
    {PEND, TK_ON_OWNER_CANCEL, {CANC, CANC, CANC, CANC}},
    {PEND, TK_ON_ADMIN_CANCEL, {CANC, CANC, CANC, CANC}},
    {PEND, TK_ON_DEADLINE, {EXP, EXP, EXP, EXP}},
    {PEND, TK_ON_ACTIVATE, {NO, NO, NO, NO}},
    {PEND, TK_ON_LAST_EXIT, {NO, NO, NO, NO}},
    {PEND, TK_ON_ABUSE, {NO, NO, NO, NO}},
    {PEND, TK_ON_VALIDITY_ENDED, {NO, NO, NO, NO}},
    {PEND, TK_ON_CLEAR_ABUSE, {NO, NO, NO, NO}},
    {PEND, TK_ON_REFUNDED, {NO, NO, NO, NO}},

    {ACT, TK_ON_PAYMENT_COMPLETED, {NO, NO, NO, NO}},
    {ACT, TK_ON_PAYMENT_FAILED, {NO, NO, NO, NO}},
    {ACT, TK_ON_OWNER_CANCEL, {CANC, NO, NO, NO}},
    {ACT, TK_ON_ADMIN_CANCEL, {CANC, CANC, CANC, CANC}},
    {ACT, TK_ON_DEADLINE, {NO, NO, NO, NO}},
    {ACT, TK_ON_ACTIVATE, {NO, NO, NO, NO}},
    {ACT, TK_ON_LAST_EXIT, {USED, USED, NO, NO}},
    {ACT, TK_ON_ABUSE, {ABU, ABU, ABU, ABU}},
    {ACT, TK_ON_VALIDITY_ENDED, {EXP, EXP, EXP, EXP}},
    {ACT, TK_ON_CLEAR_ABUSE, {NO, NO, NO, NO}},
    {ACT, TK_ON_REFUNDED, {NO, NO, NO, NO}},

    {INACT, TK_ON_PAYMENT_COMPLETED, {NO, NO, NO, NO}},
    {INACT, TK_ON_PAYMENT_FAILED, {NO, NO, NO, NO}},
    {INACT, TK_ON_OWNER_CANCEL, {NO, NO, CANC, CANC}},
    {INACT, TK_ON_ADMIN_CANCEL, {CANC, CANC, CANC, CANC}},
    {INACT, TK_ON_DEADLINE, {NO, NO, NO, NO}},
    {INACT, TK_ON_ACTIVATE, {NO, NO, ACT, ACT}},
    {INACT, TK_ON_LAST_EXIT, {NO, NO, NO, NO}},
    {INACT, TK_ON_ABUSE, {NO, NO, NO, NO}},
    {INACT, TK_ON_VALIDITY_ENDED, {NO, NO, NO, NO}},
    {INACT, TK_ON_CLEAR_ABUSE, {NO, NO, NO, NO}},
    {INACT, TK_ON_REFUNDED, {NO, NO, NO, NO}},

    {USED, TK_ON_PAYMENT_COMPLETED, {NO, NO, NO, NO}},
    {USED, TK_ON_PAYMENT_FAILED, {NO, NO, NO, NO}},
    {USED, TK_ON_OWNER_CANCEL, {NO, NO, NO, NO}},
    {USED, TK_ON_ADMIN_CANCEL, {NO, NO, NO, NO}},
    {USED, TK_ON_DEADLINE, {NO, NO, NO, NO}},
    {USED, TK_ON_ACTIVATE, {NO, NO, NO, NO}},
    {USED, TK_ON_LAST_EXIT, {NO, NO, NO, NO}},
    {USED, TK_ON_ABUSE, {NO, NO, NO, NO}},
    {USED, TK_ON_VALIDITY_ENDED, {NO, NO, NO, NO}},
    {USED, TK_ON_CLEAR_ABUSE, {NO, NO, NO, NO}},
    {USED, TK_ON_REFUNDED, {NO, NO, NO, NO}},

    {EXP, TK_ON_PAYMENT_COMPLETED, {NO, NO, NO, NO}},
    {EXP, TK_ON_PAYMENT_FAILED, {NO, NO, NO, NO}},
    {EXP, TK_ON_OWNER_CANCEL, {NO, NO, NO, NO}},
    {EXP, TK_ON_ADMIN_CANCEL, {NO, NO, NO, NO}},
    {EXP, TK_ON_DEADLINE, {NO, NO, NO, NO}},
    {EXP, TK_ON_ACTIVATE, {NO, NO, NO, NO}},
    {EXP, TK_ON_LAST_EXIT, {NO, NO, NO, NO}},
    {EXP, TK_ON_ABUSE, {NO, NO, NO, NO}},
    {EXP, TK_ON_VALIDITY_ENDED, {NO, NO, NO, NO}},
    {EXP, TK_ON_CLEAR_ABUSE, {NO, NO, NO, NO}},
    {EXP, TK_ON_REFUNDED, {NO, NO, NO, NO}},

    {CANC, TK_ON_PAYMENT_COMPLETED, {NO, NO, NO, NO}},
    {CANC, TK_ON_PAYMENT_FAILED, {NO, NO, NO, NO}},
    {CANC, TK_ON_OWNER_CANCEL, {NO, NO, NO, NO}},
    {CANC, TK_ON_ADMIN_CANCEL, {NO, NO, NO, NO}},
    {CANC, TK_ON_DEADLINE, {NO, NO, NO, NO}},
    {CANC, TK_ON_ACTIVATE, {NO, NO, NO, NO}},
    {CANC, TK_ON_LAST_EXIT, {NO, NO, NO, NO}},
    {CANC, TK_ON_ABUSE, {NO, NO, NO, NO}},
    {CANC, TK_ON_VALIDITY_ENDED, {NO, NO, NO, NO}},
    {CANC, TK_ON_CLEAR_ABUSE, {NO, NO, NO, NO}},
    {CANC, TK_ON_REFUNDED, {REF, REF, REF, REF}},

    {REF, TK_ON_PAYMENT_COMPLETED, {NO, NO, NO, NO}},
    {REF, TK_ON_PAYMENT_FAILED, {NO, NO, NO, NO}},
    {REF, TK_ON_OWNER_CANCEL, {NO, NO, NO, NO}},
    {REF, TK_ON_ADMIN_CANCEL, {NO, NO, NO, NO}},
    {REF, TK_ON_DEADLINE, {NO, NO, NO, NO}},
    {REF, TK_ON_ACTIVATE, {NO, NO, NO, NO}},
    {REF, TK_ON_LAST_EXIT, {NO, NO, NO, NO}},
    {REF, TK_ON_ABUSE, {NO, NO, NO, NO}},
    {REF, TK_ON_VALIDITY_ENDED, {NO, NO, NO, NO}},
    {REF, TK_ON_CLEAR_ABUSE, {NO, NO, NO, NO}},
    {REF, TK_ON_REFUNDED, {NO, NO, NO, NO}},

    {ABU, TK_ON_PAYMENT_COMPLETED, {NO, NO, NO, NO}},
    {ABU, TK_ON_PAYMENT_FAILED, {NO, NO, NO, NO}},
    {ABU, TK_ON_OWNER_CANCEL, {NO, NO, NO, NO}},
    {ABU, TK_ON_ADMIN_CANCEL, {CANC, CANC, CANC, CANC}},
    {ABU, TK_ON_DEADLINE, {NO, NO, NO, NO}},
    {ABU, TK_ON_ACTIVATE, {NO, NO, NO, NO}},
    {ABU, TK_ON_LAST_EXIT, {USED, USED, NO, NO}},
    {ABU, TK_ON_ABUSE, {NO, NO, NO, NO}},
    {ABU, TK_ON_VALIDITY_ENDED, {EXP, EXP, EXP, EXP}},
    {ABU, TK_ON_CLEAR_ABUSE, {ACT, ACT, ACT, ACT}},
    {ABU, TK_ON_REFUNDED, {NO, NO, NO, NO}},
};
#define N_EXPECTED (sizeof expected / sizeof expected[0])

/* What tk_transition answers, as a column value (NO or the target). */
static int answer(tk_status from, tk_trigger on, tk_ticket_type type, bool tapped) {
  tk_status to = (tk_status)99;
  if (!tk_transition(from, on, type, tapped, &to)) {
    assert_int_equal(to, 99); /* untouched when refused */
    return NO;
  }
  return (int)to;
}

static void test_every_edge_allowed_and_refused(void **state) {
  (void)state;
  assert_int_equal(N_EXPECTED, TK_N_STATUSES * TK_N_TRIGGERS);
  bool seen[TK_N_STATUSES][TK_N_TRIGGERS] = {{false}};
  for (size_t i = 0; i < N_EXPECTED; i++) {
    assert_false(seen[expected[i].from][expected[i].on]);
    seen[expected[i].from][expected[i].on] = true;
  }
  static const tk_ticket_type columns_type[4] = {TK_ONEWAY, TK_ONEWAY, TK_MONTHLY_PASS, TK_MONTHLY_PASS};
  static const bool columns_tapped[4] = {false, true, false, true};
  for (int s = 0; s < TK_N_STATUSES; s++)
    for (int g = 0; g < TK_N_TRIGGERS; g++) {
      size_t row = 0;
      while (expected[row].from != (tk_status)s || expected[row].on != (tk_trigger)g) row++;
      for (int c = 0; c < 4; c++) {
        int got = answer((tk_status)s, (tk_trigger)g, columns_type[c], columns_tapped[c]);
        if (got != expected[row].to[c])
          fail_msg("%s on trigger %d (%s, %s): got %d, expected %d", tk_status_name((tk_status)s), g,
                   tk_ticket_type_name(columns_type[c]), columns_tapped[c] ? "tapped" : "untapped", got,
                   expected[row].to[c]);
      }
    }
}

/* return behaves as oneway, and every pass as the monthly pass. */
static void test_types_share_their_kinds_rules(void **state) {
  (void)state;
  for (int s = 0; s < TK_N_STATUSES; s++)
    for (int g = 0; g < TK_N_TRIGGERS; g++)
      for (int tapped = 0; tapped < 2; tapped++) {
        int single = answer((tk_status)s, (tk_trigger)g, TK_ONEWAY, tapped);
        int pass = answer((tk_status)s, (tk_trigger)g, TK_MONTHLY_PASS, tapped);
        assert_int_equal(answer((tk_status)s, (tk_trigger)g, TK_RETURN, tapped), single);
        for (int t = TK_DAY_PASS; t <= TK_LIFETIME_PASS; t++)
          assert_int_equal(answer((tk_status)s, (tk_trigger)g, (tk_ticket_type)t, tapped), pass);
      }
}

static void test_terminal_statuses_have_no_way_out(void **state) {
  (void)state;
  for (int s = 0; s < TK_N_STATUSES; s++) {
    bool terminal = s == TK_USED || s == TK_EXPIRED || s == TK_REFUNDED;
    assert_int_equal(tk_status_terminal((tk_status)s), terminal);
    if (!terminal) continue;
    for (int g = 0; g < TK_N_TRIGGERS; g++)
      for (int t = 0; t < TK_N_TICKET_TYPES; t++) {
        assert_false(tk_transition((tk_status)s, (tk_trigger)g, (tk_ticket_type)t, false, NULL));
        assert_false(tk_transition((tk_status)s, (tk_trigger)g, (tk_ticket_type)t, true, NULL));
      }
  }
  assert_false(tk_status_terminal(TK_CANCELLED));
}

static void test_out_of_range_is_refused(void **state) {
  (void)state;
  tk_status to;
  assert_true(tk_transition(TK_PENDING_PAYMENT, TK_ON_DEADLINE, TK_ONEWAY, false, NULL)); /* to is optional */
  assert_false(tk_transition(TK_N_STATUSES, TK_ON_ADMIN_CANCEL, TK_ONEWAY, false, &to));
  assert_false(tk_transition(TK_ACTIVE, TK_N_TRIGGERS, TK_ONEWAY, false, &to));
  assert_false(tk_transition(TK_ACTIVE, TK_ON_ADMIN_CANCEL, TK_N_TICKET_TYPES, false, &to));
}

static void test_status_names(void **state) {
  (void)state;
  static const char *const names[TK_N_STATUSES] = {"pending_payment", "active",    "inactive", "used",
                                                   "expired",         "cancelled", "refunded", "abused"};
  for (int s = 0; s < TK_N_STATUSES; s++) {
    assert_string_equal(tk_status_name((tk_status)s), names[s]);
    tk_status back;
    assert_true(tk_status_parse(names[s], &back));
    assert_int_equal(back, s);
  }
  tk_status keep = TK_USED;
  assert_false(tk_status_parse("Active", &keep));
  assert_false(tk_status_parse("", &keep));
  assert_false(tk_status_parse(NULL, &keep));
  assert_int_equal(keep, TK_USED);
  assert_string_equal(tk_status_name(TK_N_STATUSES), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_edge_allowed_and_refused),
      cmocka_unit_test(test_types_share_their_kinds_rules),
      cmocka_unit_test(test_terminal_statuses_have_no_way_out),
      cmocka_unit_test(test_out_of_range_is_refused),
      cmocka_unit_test(test_status_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
