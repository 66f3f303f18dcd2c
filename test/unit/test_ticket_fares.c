/* The ticket service's price rules (svc/ticket/fares.c) against the domain spec §5-§8:
 * tiers, rounding, passenger discounts, promotions, the worked examples and age -> type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "svc/ticket/ticket.h"

#define NOW 1750000000000000LL /* µs, mid-2025 */

/* The default discounts of §6, active and open-ended. */
static void default_discounts(tk_discount d[TK_N_PAX]) {
  static const struct {
    tk_discount_kind kind;
    int64_t value;
  } defaults[TK_N_PAX] = {
      [TK_PAX_ADULT] = {TK_DISCOUNT_PERCENTAGE, 0},     [TK_PAX_CHILD] = {TK_DISCOUNT_FREE, 0},
      [TK_PAX_TEENAGER] = {TK_DISCOUNT_PERCENTAGE, 15}, [TK_PAX_STUDENT] = {TK_DISCOUNT_PERCENTAGE, 50},
      [TK_PAX_SENIOR] = {TK_DISCOUNT_PERCENTAGE, 0},    [TK_PAX_ELDER] = {TK_DISCOUNT_FREE, 0},
  };
  for (int t = 0; t < TK_N_PAX; t++)
    d[t] = (tk_discount){defaults[t].kind, defaults[t].value, true, INT64_MIN, INT64_MAX};
}

static tk_discount discounts[TK_N_PAX];

/* A single/return purchase over segments (base 10,000 unless given) with default discounts. */
static tk_price_input journey(tk_ticket_type type, const tk_segment *segs, size_t n) {
  default_discounts(discounts);
  return (tk_price_input){.type = type, .segments = segs, .n_segments = n, .return_factor_percent = 150,
                          .discounts = discounts, .now_us = NOW};
}

static tk_price_input pass(tk_ticket_type type, int64_t price, tk_pax holder) {
  default_discounts(discounts);
  return (tk_price_input){.type = type, .pass_price = price, .pass_pax = holder, .return_factor_percent = 150,
                          .discounts = discounts, .now_us = NOW};
}

static tk_promo promo_of(tk_promo_kind kind, int64_t value) {
  return (tk_promo){.kind = kind, .value = value, .any_ticket_type = true, .any_pax = true};
}

/* ---- names ---- */

static void test_names_round_trip(void **state) {
  (void)state;
  for (int t = 0; t < TK_N_PAX; t++) {
    tk_pax p;
    assert_true(tk_pax_parse(tk_pax_name((tk_pax)t), &p));
    assert_int_equal(p, t);
  }
  assert_string_equal(tk_pax_name(TK_PAX_TEENAGER), "teenager");
  assert_string_equal(tk_pax_name(TK_PAX_ELDER), "elder");
  for (int t = 0; t < TK_N_TICKET_TYPES; t++) {
    tk_ticket_type tt;
    assert_true(tk_ticket_type_parse(tk_ticket_type_name((tk_ticket_type)t), &tt));
    assert_int_equal(tt, t);
  }
  assert_string_equal(tk_ticket_type_name(TK_ONEWAY), "oneway");
  assert_string_equal(tk_ticket_type_name(TK_LIFETIME_PASS), "lifetime_pass");
  tk_discount_kind dk;
  assert_true(tk_discount_kind_parse("fixed_amount", &dk));
  assert_int_equal(dk, TK_DISCOUNT_FIXED_AMOUNT);
  assert_true(tk_discount_kind_parse("free", &dk));
  assert_int_equal(dk, TK_DISCOUNT_FREE);
  assert_string_equal(tk_discount_kind_name(TK_DISCOUNT_PERCENTAGE), "percentage");
  tk_promo_kind pk;
  for (int k = TK_PROMO_PERCENTAGE; k <= TK_PROMO_FREE_UPGRADE; k++) {
    assert_true(tk_promo_kind_parse(tk_promo_kind_name((tk_promo_kind)k), &pk));
    assert_int_equal(pk, k);
  }
  assert_string_equal(tk_promo_kind_name(TK_PROMO_BUY_ONE_GET_ONE), "buy_one_get_one");

  tk_pax p = TK_PAX_SENIOR;
  assert_false(tk_pax_parse("Adult", &p));
  assert_false(tk_pax_parse("", &p));
  assert_false(tk_pax_parse(NULL, &p));
  assert_int_equal(p, TK_PAX_SENIOR);
  tk_ticket_type tt;
  assert_false(tk_ticket_type_parse("one_way", &tt));
  assert_false(tk_ticket_type_parse(NULL, &tt));
  assert_false(tk_discount_kind_parse("buy_one_get_one", &dk));
  assert_false(tk_promo_kind_parse("free", &pk));
  assert_false(tk_promo_kind_parse(NULL, &pk));
  assert_string_equal(tk_pax_name(TK_N_PAX), "");
  assert_string_equal(tk_ticket_type_name(TK_N_TICKET_TYPES), "");
}

static void test_passes_validity_and_display(void **state) {
  (void)state;
  static const struct {
    tk_ticket_type t;
    bool is_pass;
    int days;
    const char *display;
  } rows[] = {
      {TK_ONEWAY, false, 0, "Vé một chiều"},  {TK_RETURN, false, 0, "Vé khứ hồi"},
      {TK_DAY_PASS, true, 1, "Vé ngày"},      {TK_WEEKLY_PASS, true, 7, "Vé tuần"},
      {TK_MONTHLY_PASS, true, 30, "Vé tháng"}, {TK_YEARLY_PASS, true, 365, "Vé năm"},
      {TK_LIFETIME_PASS, true, 36525, "Vé trọn đời"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    assert_int_equal(tk_is_pass(rows[i].t), rows[i].is_pass);
    assert_int_equal(tk_pass_validity_days(rows[i].t), rows[i].days);
    assert_string_equal(tk_ticket_type_display(rows[i].t), rows[i].display);
  }
  assert_false(tk_is_pass(TK_N_TICKET_TYPES));
  assert_int_equal(tk_pass_validity_days(TK_N_TICKET_TYPES), 0);
}

/* ---- tiers and rounding ---- */

static void test_tiers_at_every_boundary(void **state) {
  (void)state;
  static const int cases[][2] = {{1, 100},  {2, 100},  {5, 100},  {6, 120},  {10, 120}, {11, 140},
                                 {14, 140}, {15, 140}, {16, 160}, {20, 160}, {21, 180}, {22, 180},
                                 {25, 180}, {26, 200}, {103, 200}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(tk_tier_percent(cases[i][0]), cases[i][1]);
}

static void test_rounding_is_half_up_once(void **state) {
  (void)state;
  assert_int_equal(tk_round_1000(8500, 1), 9000);
  assert_int_equal(tk_round_1000(28900, 1), 29000);
  assert_int_equal(tk_round_1000(12100, 1), 12000);
  assert_int_equal(tk_round_1000(12500, 1), 13000);
  assert_int_equal(tk_round_1000(0, 1), 0);
  assert_int_equal(tk_round_1000(499, 1), 0);
  assert_int_equal(tk_round_1000(500, 1), 1000);
  assert_int_equal(tk_round_1000(1499, 1), 1000);
  assert_int_equal(tk_round_1000(36000, 1), 36000);
  /* exact fractions: 34,000 x 85 / 100 = 28,900; 1,499.999... stays down; 1,500 goes up */
  assert_int_equal(tk_round_1000(34000 * 85, 100), 29000);
  assert_int_equal(tk_round_1000(4499, 3), 1000);
  assert_int_equal(tk_round_1000(4500, 3), 2000);
  assert_int_equal(tk_round_1000(1, 3), 0);
  assert_int_equal(tk_round_1000(1499999, 1000), 1000);
  assert_int_equal(tk_round_1000(1500000, 1000), 2000);
}

/* ---- passenger discounts ---- */

static void test_every_discount_kind(void **state) {
  (void)state;
  tk_discount pct15 = {TK_DISCOUNT_PERCENTAGE, 15, true, INT64_MIN, INT64_MAX};
  tk_discount pct50 = {TK_DISCOUNT_PERCENTAGE, 50, true, INT64_MIN, INT64_MAX};
  tk_discount pct0 = {TK_DISCOUNT_PERCENTAGE, 0, true, INT64_MIN, INT64_MAX};
  tk_discount fixed = {TK_DISCOUNT_FIXED_AMOUNT, 3000, true, INT64_MIN, INT64_MAX};
  tk_discount fixed_big = {TK_DISCOUNT_FIXED_AMOUNT, 15000, true, INT64_MIN, INT64_MAX};
  tk_discount free_ = {TK_DISCOUNT_FREE, 0, true, INT64_MIN, INT64_MAX};

  assert_int_equal(tk_discounted(&pct15, 10000, 1, NOW), 9000);   /* 8,500 */
  assert_int_equal(tk_discounted(&pct15, 34000, 1, NOW), 29000);  /* 28,900 */
  assert_int_equal(tk_discounted(&pct15, 36000, 1, NOW), 31000);  /* 30,600 */
  assert_int_equal(tk_discounted(&pct50, 34000, 1, NOW), 17000);
  assert_int_equal(tk_discounted(&pct50, 2400000, 100, NOW), 12000); /* 24,000 exactly, over 100 */
  assert_int_equal(tk_discounted(&pct0, 12345, 1, NOW), 12000);   /* no discount: still rounded */
  assert_int_equal(tk_discounted(&fixed, 10000, 1, NOW), 7000);
  assert_int_equal(tk_discounted(&fixed, 12600, 1, NOW), 10000);  /* 9,600 */
  assert_int_equal(tk_discounted(&fixed_big, 10000, 1, NOW), 0);  /* capped at the price */
  assert_int_equal(tk_discounted(&fixed_big, 15000, 1, NOW), 0);
  assert_int_equal(tk_discounted(&fixed_big, 15500, 1, NOW), 1000);
  assert_int_equal(tk_discounted(&free_, 300000, 1, NOW), 0);
  assert_int_equal(tk_discounted(NULL, 8500, 1, NOW), 9000);
}

static void test_discount_outside_its_window_or_inactive_is_full_price(void **state) {
  (void)state;
  tk_discount d = {TK_DISCOUNT_PERCENTAGE, 50, true, NOW, NOW + 1000};
  assert_int_equal(tk_discounted(&d, 34000, 1, NOW - 1), 34000);     /* not yet */
  assert_int_equal(tk_discounted(&d, 34000, 1, NOW), 17000);         /* from is inclusive */
  assert_int_equal(tk_discounted(&d, 34000, 1, NOW + 999), 17000);
  assert_int_equal(tk_discounted(&d, 34000, 1, NOW + 1000), 34000);  /* until is exclusive */
  assert_int_equal(tk_discounted(&d, 28900, 1, NOW + 5000), 29000);  /* full price, rounded */
  d.is_active = false;
  assert_int_equal(tk_discounted(&d, 34000, 1, NOW), 34000);
  tk_discount gone = {TK_DISCOUNT_FREE, 0, true, INT64_MIN, NOW};
  assert_int_equal(tk_discounted(&gone, 10000, 1, NOW), 10000);
  gone.valid_until_us = INT64_MAX;
  assert_int_equal(tk_discounted(&gone, 10000, 1, NOW), 0);
  tk_discount fixed_off = {TK_DISCOUNT_FIXED_AMOUNT, 5000, false, INT64_MIN, INT64_MAX};
  assert_int_equal(tk_discounted(&fixed_off, 10000, 1, NOW), 10000);
}

static void test_expired_discount_in_a_purchase(void **state) {
  (void)state;
  tk_segment s[] = {{"L1", 2, 10000}};
  tk_price_input in = journey(TK_ONEWAY, s, 1);
  in.counts[TK_PAX_CHILD] = 1;
  in.counts[TK_PAX_STUDENT] = 1;
  discounts[TK_PAX_CHILD].valid_until_us = NOW; /* ended */
  discounts[TK_PAX_STUDENT].is_active = false;
  tk_price p;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.per_person[TK_PAX_CHILD], 10000);
  assert_int_equal(p.per_person[TK_PAX_STUDENT], 10000);
  assert_int_equal(p.total, 20000);
  assert_int_equal(p.passenger_discount, 0);
}

/* ---- promotions ---- */

static void test_every_promotion_kind(void **state) {
  (void)state;
  tk_promo pct10 = promo_of(TK_PROMO_PERCENTAGE, 10);
  tk_promo pct100 = promo_of(TK_PROMO_PERCENTAGE, 100);
  tk_promo fixed = promo_of(TK_PROMO_FIXED_AMOUNT, 10000);
  tk_promo bogo = promo_of(TK_PROMO_BUY_ONE_GET_ONE, 0);
  tk_promo upgrade = promo_of(TK_PROMO_FREE_UPGRADE, 0);

  assert_int_equal(tk_promo_discount(&pct10, 121000), 12000);  /* 12,100 */
  assert_int_equal(tk_promo_discount(&pct10, 125000), 13000);  /* 12,500 */
  assert_int_equal(tk_promo_discount(&pct100, 5000), 5000);
  assert_int_equal(tk_promo_discount(&fixed, 28000), 10000);
  assert_int_equal(tk_promo_discount(&fixed, 5000), 5000);     /* capped at the base */
  assert_int_equal(tk_promo_discount(&fixed, 0), 0);
  assert_int_equal(tk_promo_discount(&bogo, 28000), 14000);
  assert_int_equal(tk_promo_discount(&bogo, 9000), 5000);      /* 4,500 */
  assert_int_equal(tk_promo_discount(&upgrade, 255000), 77000); /* 76,500 */
  assert_int_equal(tk_promo_discount(&upgrade, 300000), 90000);
  assert_int_equal(tk_promo_discount(&upgrade, 1000), 0);      /* 300 -> 0 */
  assert_int_equal(tk_promo_discount(&upgrade, 2000), 1000);   /* 600 -> 1,000 */
  assert_int_equal(tk_promo_discount(NULL, 2000), 0);
}

static void test_free_upgrade_only_on_passes(void **state) {
  (void)state;
  tk_promo upgrade = promo_of(TK_PROMO_FREE_UPGRADE, 0);
  tk_segment s[] = {{"L1", 14, 10000}};
  tk_price p;
  tk_price_input in = journey(TK_ONEWAY, s, 1);
  in.counts[TK_PAX_ADULT] = 1;
  in.promo = &upgrade;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_PROMO_NOT_APPLICABLE);
  in.type = TK_RETURN;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_PROMO_NOT_APPLICABLE);

  in = pass(TK_DAY_PASS, 20000, TK_PAX_ADULT);
  in.promo = &upgrade;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.promo_base, 20000);
  assert_int_equal(p.promo_discount, 6000);
  assert_int_equal(p.total, 14000);
}

static void test_promotion_eligibility_by_ticket_type(void **state) {
  (void)state;
  tk_promo pct = promo_of(TK_PROMO_PERCENTAGE, 10);
  pct.any_ticket_type = false;
  pct.ticket_types[TK_RETURN] = true;
  pct.ticket_types[TK_WEEKLY_PASS] = true;
  tk_segment s[] = {{"L1", 14, 10000}};
  tk_price p;
  tk_price_input in = journey(TK_ONEWAY, s, 1);
  in.counts[TK_PAX_ADULT] = 1;
  in.promo = &pct;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_PROMO_NOT_APPLICABLE);
  assert_int_equal(p.promo_discount, 0);
  assert_int_equal(p.total, 14000); /* the price without it is still there */
  in.type = TK_RETURN;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.promo_discount, 2000); /* 2,100 */
  assert_int_equal(p.total, 19000);

  in = pass(TK_MONTHLY_PASS, 300000, TK_PAX_ADULT);
  in.promo = &pct;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_PROMO_NOT_APPLICABLE);
  in = pass(TK_WEEKLY_PASS, 80000, TK_PAX_ADULT);
  in.promo = &pct;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.total, 72000);
}

static void test_promotion_eligibility_by_route_list(void **state) {
  (void)state;
  static const char *const lines[] = {"L1", "L2"};
  tk_promo pct = promo_of(TK_PROMO_PERCENTAGE, 50);
  pct.route_ids = lines;
  pct.n_route_ids = 2;
  tk_segment listed[] = {{"L1", 14, 10000}, {"L2", 2, 10000}};
  tk_segment mixed[] = {{"L1", 6, 10000}, {"L3a", 3, 10000}};
  tk_price p;
  tk_price_input in = journey(TK_ONEWAY, listed, 2);
  in.counts[TK_PAX_ADULT] = 1;
  in.promo = &pct;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.total, 12000);
  in.segments = mixed; /* every line must be listed */
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_PROMO_NOT_APPLICABLE);
  pct.n_route_ids = 0; /* empty list = all lines */
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.total, 11000);

  pct.n_route_ids = 2; /* passes never qualify for a promotion that lists lines */
  in = pass(TK_MONTHLY_PASS, 300000, TK_PAX_ADULT);
  in.promo = &pct;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_PROMO_NOT_APPLICABLE);
  assert_int_equal(p.total, 300000);
  pct.n_route_ids = 0;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.total, 150000);
}

static void test_promotion_eligibility_by_passenger_type(void **state) {
  (void)state;
  tk_promo pct = promo_of(TK_PROMO_PERCENTAGE, 50);
  pct.any_pax = false;
  pct.pax[TK_PAX_STUDENT] = true;
  pct.pax[TK_PAX_TEENAGER] = true;
  tk_segment s[] = {{"L1", 6, 10000}, {"L3a", 3, 10000}, {"L6", 6, 10000}}; /* 34,000 */
  tk_price p;
  tk_price_input in = journey(TK_ONEWAY, s, 3);
  in.counts[TK_PAX_ADULT] = 2;
  in.promo = &pct;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_PROMO_NOT_APPLICABLE); /* nobody applicable */
  in.counts[TK_PAX_STUDENT] = 1;
  in.counts[TK_PAX_TEENAGER] = 1;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.subtotal, 68000 + 17000 + 29000);
  assert_int_equal(p.promo_base, 17000 + 29000); /* only the applicable types */
  assert_int_equal(p.promo_discount, 23000);
  assert_int_equal(p.total, 114000 - 23000);

  /* an applicable passenger who travels free: applies, on a base of 0 */
  tk_promo child_only = promo_of(TK_PROMO_FIXED_AMOUNT, 5000);
  child_only.any_pax = false;
  child_only.pax[TK_PAX_CHILD] = true;
  in.promo = &child_only;
  in.counts[TK_PAX_CHILD] = 1;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.promo_base, 0);
  assert_int_equal(p.promo_discount, 0);
  assert_int_equal(p.total, 114000);

  in = pass(TK_MONTHLY_PASS, 300000, TK_PAX_ADULT);
  in.promo = &pct;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_PROMO_NOT_APPLICABLE);
  in.pass_pax = TK_PAX_STUDENT;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.promo_base, 150000);
  assert_int_equal(p.total, 75000);
}

/* ---- purchases: the worked examples of §5.1 ---- */

static void test_example_c_two_transfers_mixed_group(void **state) {
  (void)state;
  tk_segment s[] = {{"L1", 6, 10000}, {"L3a", 3, 10000}, {"L6", 6, 10000}};
  tk_price_input in = journey(TK_ONEWAY, s, 3);
  in.counts[TK_PAX_ADULT] = 2;
  in.counts[TK_PAX_STUDENT] = 1;
  in.counts[TK_PAX_TEENAGER] = 1;
  in.counts[TK_PAX_CHILD] = 1;
  tk_price p;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.seg_percent[0], 120);
  assert_int_equal(p.seg_percent[1], 100);
  assert_int_equal(p.seg_percent[2], 120);
  assert_int_equal(p.seg_price[0], 12000);
  assert_int_equal(p.seg_price[1], 10000);
  assert_int_equal(p.seg_price[2], 12000);
  assert_int_equal(p.journey_price, 34000);
  assert_int_equal(p.trip_factor_percent, 100);
  assert_int_equal(p.per_journey, 34000);
  assert_int_equal(p.per_person[TK_PAX_ADULT], 34000);
  assert_int_equal(p.per_person[TK_PAX_STUDENT], 17000);
  assert_int_equal(p.per_person[TK_PAX_TEENAGER], 29000);
  assert_int_equal(p.per_person[TK_PAX_CHILD], 0);
  assert_int_equal(p.pax_subtotal[TK_PAX_ADULT], 68000);
  assert_int_equal(p.pax_subtotal[TK_PAX_SENIOR], 0);
  assert_int_equal(p.total_passengers, 5);
  assert_int_equal(p.original, 170000);
  assert_int_equal(p.subtotal, 114000);
  assert_int_equal(p.passenger_discount, 56000);
  assert_int_equal(p.promo_discount, 0);
  assert_int_equal(p.total, 114000);
}

static void test_example_d_return_group_with_promotion(void **state) {
  (void)state;
  tk_segment s[] = {{"L1", 14, 10000}, {"L2", 2, 10000}};
  tk_promo pct10 = promo_of(TK_PROMO_PERCENTAGE, 10);
  tk_price_input in = journey(TK_RETURN, s, 2);
  in.counts[TK_PAX_ADULT] = 2;
  in.counts[TK_PAX_TEENAGER] = 1;
  in.counts[TK_PAX_STUDENT] = 1;
  in.counts[TK_PAX_ELDER] = 1;
  in.promo = &pct10;
  tk_price p;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.journey_price, 24000);
  assert_int_equal(p.trip_factor_percent, 150);
  assert_int_equal(p.per_journey, 36000);
  assert_int_equal(p.per_person[TK_PAX_TEENAGER], 31000);
  assert_int_equal(p.per_person[TK_PAX_STUDENT], 18000);
  assert_int_equal(p.per_person[TK_PAX_ELDER], 0);
  assert_int_equal(p.subtotal, 121000);
  assert_int_equal(p.original, 180000);
  assert_int_equal(p.passenger_discount, 59000);
  assert_int_equal(p.promo_base, 121000);
  assert_int_equal(p.promo_discount, 12000);
  assert_int_equal(p.total, 109000);
}

static void test_example_e_teenager_adjacent(void **state) {
  (void)state;
  tk_segment s[] = {{"L1", 2, 10000}};
  tk_price_input in = journey(TK_ONEWAY, s, 1);
  in.counts[TK_PAX_TEENAGER] = 1;
  tk_price p;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.per_journey, 10000);
  assert_int_equal(p.total, 9000);
  assert_int_equal(p.passenger_discount, 1000);
}

static void test_example_f_monthly_pass_free_upgrade(void **state) {
  (void)state;
  tk_promo upgrade = promo_of(TK_PROMO_FREE_UPGRADE, 0);
  tk_price_input in = pass(TK_MONTHLY_PASS, 300000, TK_PAX_TEENAGER);
  in.counts[TK_PAX_ADULT] = -3; /* counts play no part in a pass */
  in.counts[TK_PAX_CHILD] = 40;
  in.promo = &upgrade;
  tk_price p;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.journey_price, 300000);
  assert_int_equal(p.trip_factor_percent, 100);
  assert_int_equal(p.per_journey, 300000);
  assert_int_equal(p.per_person[TK_PAX_TEENAGER], 255000);
  assert_int_equal(p.pax_subtotal[TK_PAX_TEENAGER], 255000);
  assert_int_equal(p.pax_subtotal[TK_PAX_ADULT], 0);
  assert_int_equal(p.pax_subtotal[TK_PAX_CHILD], 0);
  assert_int_equal(p.total_passengers, 1);
  assert_int_equal(p.original, 300000);
  assert_int_equal(p.subtotal, 255000);
  assert_int_equal(p.passenger_discount, 45000);
  assert_int_equal(p.promo_base, 255000);
  assert_int_equal(p.promo_discount, 77000);
  assert_int_equal(p.total, 178000);
}

static void test_buy_one_get_one_and_fixed_capped(void **state) {
  (void)state;
  tk_segment s14[] = {{"L1", 14, 10000}};
  tk_promo bogo = promo_of(TK_PROMO_BUY_ONE_GET_ONE, 0);
  tk_price_input in = journey(TK_ONEWAY, s14, 1);
  in.counts[TK_PAX_ADULT] = 2;
  in.promo = &bogo;
  tk_price p;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.subtotal, 28000);
  assert_int_equal(p.promo_discount, 14000);
  assert_int_equal(p.total, 14000);

  tk_segment s2[] = {{"L1", 2, 10000}};
  tk_promo fixed = promo_of(TK_PROMO_FIXED_AMOUNT, 10000);
  in = journey(TK_ONEWAY, s2, 1);
  in.counts[TK_PAX_STUDENT] = 1;
  in.promo = &fixed;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.subtotal, 5000);
  assert_int_equal(p.promo_base, 5000);
  assert_int_equal(p.promo_discount, 5000);
  assert_int_equal(p.total, 0);
}

/* The twelve acceptance cases of fare-examples.json, with the planner's segments written out. */
static void test_fare_examples(void **state) {
  (void)state;
  static const tk_promo pct10 = {.kind = TK_PROMO_PERCENTAGE, .value = 10, .any_ticket_type = true, .any_pax = true};
  static const tk_promo bogo = {.kind = TK_PROMO_BUY_ONE_GET_ONE, .any_ticket_type = true, .any_pax = true};
  static const tk_promo fixed = {
      .kind = TK_PROMO_FIXED_AMOUNT, .value = 10000, .any_ticket_type = true, .any_pax = true};
  static const struct {
    const char *name;
    tk_ticket_type type;
    tk_segment segs[4];
    size_t n;
    int counts[TK_N_PAX];
    const tk_promo *promo;
    int64_t total;
  } cases[] = {
      {"adjacent-oneway", TK_ONEWAY, {{"L1", 2, 10000}}, 1, {[TK_PAX_ADULT] = 1}, NULL, 10000},
      {"six-stations-oneway", TK_ONEWAY, {{"L1", 6, 10000}}, 1, {[TK_PAX_ADULT] = 1}, NULL, 12000},
      {"full-line1-oneway", TK_ONEWAY, {{"L1", 14, 10000}}, 1, {[TK_PAX_ADULT] = 1}, NULL, 14000},
      {"full-line1-return", TK_RETURN, {{"L1", 14, 10000}}, 1, {[TK_PAX_ADULT] = 1}, NULL, 21000},
      {"full-line2-oneway", TK_ONEWAY, {{"L2", 22, 10000}}, 1, {[TK_PAX_ADULT] = 1}, NULL, 18000},
      {"one-transfer", TK_ONEWAY, {{"L1", 14, 10000}, {"L2", 2, 10000}}, 2, {[TK_PAX_ADULT] = 1}, NULL, 24000},
      {"two-transfers-mixed-group", TK_ONEWAY, {{"L1", 6, 10000}, {"L3a", 3, 10000}, {"L6", 6, 10000}}, 3,
       {[TK_PAX_ADULT] = 2, [TK_PAX_STUDENT] = 1, [TK_PAX_TEENAGER] = 1, [TK_PAX_CHILD] = 1}, NULL, 114000},
      {"three-transfers", TK_ONEWAY, {{"L1", 14, 10000}, {"L4", 2, 10000}, {"L3b", 4, 10000}, {"L5", 2, 10000}}, 4,
       {[TK_PAX_ADULT] = 1}, NULL, 44000},
      {"return-group-percentage-promotion", TK_RETURN, {{"L1", 14, 10000}, {"L2", 2, 10000}}, 2,
       {[TK_PAX_ADULT] = 2, [TK_PAX_TEENAGER] = 1, [TK_PAX_STUDENT] = 1, [TK_PAX_ELDER] = 1}, &pct10, 109000},
      {"teenager-half-up-rounding", TK_ONEWAY, {{"L1", 2, 10000}}, 1, {[TK_PAX_TEENAGER] = 1}, NULL, 9000},
      {"buy-one-get-one", TK_ONEWAY, {{"L1", 14, 10000}}, 1, {[TK_PAX_ADULT] = 2}, &bogo, 14000},
      {"fixed-amount-capped-to-zero", TK_ONEWAY, {{"L1", 2, 10000}}, 1, {[TK_PAX_STUDENT] = 1}, &fixed, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tk_price_input in = journey(cases[i].type, cases[i].segs, cases[i].n);
    memcpy(in.counts, cases[i].counts, sizeof in.counts);
    in.promo = cases[i].promo;
    tk_price p;
    if (tk_price_compute(&in, &p) != TK_PRICE_OK || p.total != cases[i].total)
      fail_msg("%s: total %lld, expected %lld", cases[i].name, (long long)p.total,
               (long long)cases[i].total);
  }
}

static void test_exact_until_the_one_rounding(void **state) {
  (void)state;
  /* 10,500 x 1.2 = 12,600 and 10,500 x 1.0: journey 23,100; return x 1.5 = 34,650 -> 35,000;
   * teenager 34,650 x 0.85 = 29,452.5 -> 29,000 (rounding the return price first would give 29,750 -> 30,000). */
  tk_segment s[] = {{"L1", 6, 10500}, {"L2", 3, 10500}};
  tk_price_input in = journey(TK_RETURN, s, 2);
  in.counts[TK_PAX_TEENAGER] = 1;
  tk_price p;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.journey_price, 23100);
  assert_int_equal(p.per_journey, 35000);
  assert_int_equal(p.per_person[TK_PAX_TEENAGER], 29000);
  assert_int_equal(p.per_person[TK_PAX_ADULT], 35000);
}

static void test_passenger_count_bounds(void **state) {
  (void)state;
  tk_segment s[] = {{"L1", 2, 10000}};
  tk_price p;
  tk_price_input in = journey(TK_ONEWAY, s, 1);
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_BAD_COUNT); /* nobody */
  in.counts[TK_PAX_ADULT] = 1;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  in.counts[TK_PAX_ADULT] = 15;
  in.counts[TK_PAX_CHILD] = 5;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK); /* 20 */
  assert_int_equal(p.total_passengers, 20);
  assert_int_equal(p.total, 150000);
  in.counts[TK_PAX_ELDER] = 1;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_BAD_COUNT); /* 21 */
  in.counts[TK_PAX_ELDER] = 0;
  in.counts[TK_PAX_ADULT] = 21;
  in.counts[TK_PAX_CHILD] = -1; /* 20 in all, but a negative count */
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_BAD_COUNT);
  in.counts[TK_PAX_ADULT] = 3;
  in.counts[TK_PAX_CHILD] = -1;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_BAD_COUNT);
  in.type = TK_RETURN;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_BAD_COUNT);
}

static void test_segment_limit(void **state) {
  (void)state;
  tk_segment s[TK_MAX_SEGMENTS + 1];
  for (size_t i = 0; i < TK_MAX_SEGMENTS + 1; i++) s[i] = (tk_segment){"L1", 2, 1000};
  tk_price p;
  tk_price_input in = journey(TK_ONEWAY, s, TK_MAX_SEGMENTS);
  in.counts[TK_PAX_ADULT] = 1;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
  assert_int_equal(p.total, TK_MAX_SEGMENTS * 1000);
  in.n_segments = TK_MAX_SEGMENTS + 1;
  assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_TOO_MANY_SEGMENTS);
}

static void test_pass_prices_by_holder(void **state) {
  (void)state;
  static const struct {
    tk_ticket_type t;
    int64_t price;
    tk_pax holder;
    int64_t total;
  } cases[] = {
      {TK_DAY_PASS, 20000, TK_PAX_ADULT, 20000},      {TK_DAY_PASS, 20000, TK_PAX_TEENAGER, 17000},
      {TK_WEEKLY_PASS, 80000, TK_PAX_TEENAGER, 68000}, {TK_MONTHLY_PASS, 300000, TK_PAX_STUDENT, 150000},
      {TK_YEARLY_PASS, 1200000, TK_PAX_CHILD, 0},     {TK_YEARLY_PASS, 1200000, TK_PAX_ELDER, 0},
      {TK_YEARLY_PASS, 1200000, TK_PAX_SENIOR, 1200000},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tk_price_input in = pass(cases[i].t, cases[i].price, cases[i].holder);
    tk_price p;
    assert_int_equal(tk_price_compute(&in, &p), TK_PRICE_OK);
    assert_int_equal(p.total, cases[i].total);
    assert_int_equal(p.total_passengers, 1);
    assert_int_equal(p.original, cases[i].price);
  }
}

/* ---- age -> passenger type ---- */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil), for the cases. */
static long day_of(long y, int m, int d) {
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void test_age_birthdays(void **state) {
  (void)state;
  assert_int_equal(day_of(1970, 1, 1), 0);
  assert_int_equal(day_of(1969, 12, 31), -1);
  assert_int_equal(day_of(2000, 3, 1), 11017);

  long dob = day_of(2010, 6, 15);
  assert_int_equal(tk_age_years(dob, dob), 0);
  assert_int_equal(tk_pax_for_age(true, dob, day_of(2022, 6, 14)), TK_PAX_CHILD); /* 11 */
  assert_int_equal(tk_pax_for_age(true, dob, day_of(2022, 6, 15)), TK_PAX_TEENAGER);
  assert_int_equal(tk_pax_for_age(true, dob, day_of(2028, 6, 14)), TK_PAX_TEENAGER); /* 17 */
  assert_int_equal(tk_pax_for_age(true, dob, day_of(2028, 6, 15)), TK_PAX_ADULT);
  assert_int_equal(tk_age_years(dob, day_of(2028, 6, 14)), 17);
  assert_int_equal(tk_age_years(dob, day_of(2028, 6, 15)), 18);

  long old = day_of(1965, 6, 15);
  assert_int_equal(tk_pax_for_age(true, old, day_of(2025, 6, 14)), TK_PAX_ADULT); /* 59 */
  assert_int_equal(tk_pax_for_age(true, old, day_of(2025, 6, 15)), TK_PAX_ELDER);
  assert_int_equal(tk_age_years(old, day_of(2025, 6, 15)), 60);
  /* before the epoch */
  assert_int_equal(tk_pax_for_age(true, day_of(1950, 1, 1), day_of(2009, 12, 31)), TK_PAX_ADULT);
  assert_int_equal(tk_pax_for_age(true, day_of(1950, 1, 1), day_of(2010, 1, 1)), TK_PAX_ELDER);
  /* month before the birthday month, same day number */
  assert_int_equal(tk_age_years(day_of(2000, 7, 1), day_of(2012, 6, 30)), 11);
  assert_int_equal(tk_age_years(day_of(2000, 7, 1), day_of(2012, 8, 1)), 12);

  assert_int_equal(tk_pax_for_age(false, 0, day_of(2025, 1, 1)), TK_PAX_ADULT);
  assert_int_equal(tk_pax_for_age(false, day_of(2020, 1, 1), day_of(2025, 1, 1)), TK_PAX_ADULT);
}

static void test_age_feb_29_birthday(void **state) {
  (void)state;
  long leapling = day_of(2008, 2, 29);
  /* 12th birthday in a leap year (2020): on Feb 29 itself */
  assert_int_equal(tk_pax_for_age(true, leapling, day_of(2020, 2, 28)), TK_PAX_CHILD);
  assert_int_equal(tk_pax_for_age(true, leapling, day_of(2020, 2, 29)), TK_PAX_TEENAGER);
  /* 18th birthday in a common year (2026): Feb 28 is not yet, Mar 1 is */
  assert_int_equal(tk_pax_for_age(true, leapling, day_of(2026, 2, 28)), TK_PAX_TEENAGER);
  assert_int_equal(tk_pax_for_age(true, leapling, day_of(2026, 3, 1)), TK_PAX_ADULT);
  assert_int_equal(tk_age_years(leapling, day_of(2026, 2, 28)), 17);
  assert_int_equal(tk_age_years(leapling, day_of(2026, 3, 1)), 18);
  /* 13th in 2021 (common) */
  assert_int_equal(tk_age_years(leapling, day_of(2021, 2, 28)), 12);
  assert_int_equal(tk_age_years(leapling, day_of(2021, 3, 1)), 13);
  /* 60th in 2024 (leap) */
  long old = day_of(1964, 2, 29);
  assert_int_equal(tk_pax_for_age(true, old, day_of(2024, 2, 28)), TK_PAX_ADULT);
  assert_int_equal(tk_pax_for_age(true, old, day_of(2024, 2, 29)), TK_PAX_ELDER);
  /* 2100 is not a leap year */
  assert_int_equal(tk_age_years(day_of(2096, 2, 29), day_of(2100, 2, 28)), 3);
  assert_int_equal(tk_age_years(day_of(2096, 2, 29), day_of(2100, 3, 1)), 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_round_trip),
      cmocka_unit_test(test_passes_validity_and_display),
      cmocka_unit_test(test_tiers_at_every_boundary),
      cmocka_unit_test(test_rounding_is_half_up_once),
      cmocka_unit_test(test_every_discount_kind),
      cmocka_unit_test(test_discount_outside_its_window_or_inactive_is_full_price),
      cmocka_unit_test(test_expired_discount_in_a_purchase),
      cmocka_unit_test(test_every_promotion_kind),
      cmocka_unit_test(test_free_upgrade_only_on_passes),
      cmocka_unit_test(test_promotion_eligibility_by_ticket_type),
      cmocka_unit_test(test_promotion_eligibility_by_route_list),
      cmocka_unit_test(test_promotion_eligibility_by_passenger_type),
      cmocka_unit_test(test_example_c_two_transfers_mixed_group),
      cmocka_unit_test(test_example_d_return_group_with_promotion),
      cmocka_unit_test(test_example_e_teenager_adjacent),
      cmocka_unit_test(test_example_f_monthly_pass_free_upgrade),
      cmocka_unit_test(test_buy_one_get_one_and_fixed_capped),
      cmocka_unit_test(test_fare_examples),
      cmocka_unit_test(test_exact_until_the_one_rounding),
      cmocka_unit_test(test_passenger_count_bounds),
      cmocka_unit_test(test_segment_limit),
      cmocka_unit_test(test_pass_prices_by_holder),
      cmocka_unit_test(test_age_birthdays),
      cmocka_unit_test(test_age_feb_29_birthday),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
