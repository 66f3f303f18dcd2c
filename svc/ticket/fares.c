/* The price rules of the domain spec §5-§8, pure and without I/O: names of the ticket enums,
 * tiers, passenger discounts, promotions, the priced breakdown of a purchase and age -> type. */
#include <stdint.h>
#include <string.h>

#include "svc/ticket/ticket.h"

/* ---- names ---- */

static const char *const pax_names[TK_N_PAX] = {
    [TK_PAX_ADULT] = "adult",     [TK_PAX_CHILD] = "child",   [TK_PAX_TEENAGER] = "teenager",
    [TK_PAX_STUDENT] = "student", [TK_PAX_SENIOR] = "senior", [TK_PAX_ELDER] = "elder",
};

/* One row per ticket type: API name, Vietnamese display name, pass validity in days (0 = not a pass). */
static const struct ticket_type_row {
  const char *name;
  const char *display;
  int validity_days;
} ticket_types[TK_N_TICKET_TYPES] = {
    [TK_ONEWAY] = {"oneway", "Vé một chiều", 0},
    [TK_RETURN] = {"return", "Vé khứ hồi", 0},
    [TK_DAY_PASS] = {"day_pass", "Vé ngày", 1},
    [TK_WEEKLY_PASS] = {"weekly_pass", "Vé tuần", 7},
    [TK_MONTHLY_PASS] = {"monthly_pass", "Vé tháng", 30},
    [TK_YEARLY_PASS] = {"yearly_pass", "Vé năm", 365},
    [TK_LIFETIME_PASS] = {"lifetime_pass", "Vé trọn đời", 36525},
};

static const char *const discount_kind_names[] = {
    [TK_DISCOUNT_PERCENTAGE] = "percentage",
    [TK_DISCOUNT_FIXED_AMOUNT] = "fixed_amount",
    [TK_DISCOUNT_FREE] = "free",
};
#define N_DISCOUNT_KINDS (sizeof discount_kind_names / sizeof discount_kind_names[0])

static const char *const promo_kind_names[] = {
    [TK_PROMO_PERCENTAGE] = "percentage",
    [TK_PROMO_FIXED_AMOUNT] = "fixed_amount",
    [TK_PROMO_BUY_ONE_GET_ONE] = "buy_one_get_one",
    [TK_PROMO_FREE_UPGRADE] = "free_upgrade",
};
#define N_PROMO_KINDS (sizeof promo_kind_names / sizeof promo_kind_names[0])

/* The index of s in names[0..n), or -1. */
static int name_index(const char *const *names, size_t n, const char *s) {
  if (!s) return -1;
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], s) == 0) return (int)i;
  return -1;
}

const char *tk_pax_name(tk_pax p) { return (unsigned)p < TK_N_PAX ? pax_names[p] : ""; }

bool tk_pax_parse(const char *s, tk_pax *out) {
  int i = name_index(pax_names, TK_N_PAX, s);
  if (i < 0) return false;
  if (out) *out = (tk_pax)i;
  return true;
}

const char *tk_ticket_type_name(tk_ticket_type t) {
  return (unsigned)t < TK_N_TICKET_TYPES ? ticket_types[t].name : "";
}

bool tk_ticket_type_parse(const char *s, tk_ticket_type *out) {
  if (!s) return false;
  for (int i = 0; i < TK_N_TICKET_TYPES; i++)
    if (strcmp(ticket_types[i].name, s) == 0) {
      if (out) *out = (tk_ticket_type)i;
      return true;
    }
  return false;
}

int tk_pass_validity_days(tk_ticket_type t) {
  return (unsigned)t < TK_N_TICKET_TYPES ? ticket_types[t].validity_days : 0;
}

bool tk_is_pass(tk_ticket_type t) { return tk_pass_validity_days(t) > 0; }

const char *tk_ticket_type_display(tk_ticket_type t) {
  return (unsigned)t < TK_N_TICKET_TYPES ? ticket_types[t].display : "";
}

const char *tk_discount_kind_name(tk_discount_kind k) {
  return (unsigned)k < N_DISCOUNT_KINDS ? discount_kind_names[k] : "";
}

bool tk_discount_kind_parse(const char *s, tk_discount_kind *out) {
  int i = name_index(discount_kind_names, N_DISCOUNT_KINDS, s);
  if (i < 0) return false;
  if (out) *out = (tk_discount_kind)i;
  return true;
}

const char *tk_promo_kind_name(tk_promo_kind k) { return (unsigned)k < N_PROMO_KINDS ? promo_kind_names[k] : ""; }

bool tk_promo_kind_parse(const char *s, tk_promo_kind *out) {
  int i = name_index(promo_kind_names, N_PROMO_KINDS, s);
  if (i < 0) return false;
  if (out) *out = (tk_promo_kind)i;
  return true;
}

/* ---- amounts ---- */

int64_t tk_round_1000(int64_t num, int64_t den) {
  if (num <= 0 || den <= 0) return 0; /* prices are never negative */
  /* num/den = k x 1,000 + rem + r/den; up when rem + r/den >= 500 (no overflow of num + 500 den). */
  int64_t q = num / den, r = num % den;
  int64_t k = q / 1000, rem = q % 1000;
  return (k + (rem * den + r >= 500 * den ? 1 : 0)) * 1000;
}

/* Upper bounds of the §5 tiers (inclusive station counts) and their multipliers. */
static const struct tier {
  int max_stations;
  int percent;
} tiers[] = {{5, 100}, {10, 120}, {15, 140}, {20, 160}, {25, 180}, {INT32_MAX, 200}};

int tk_tier_percent(int station_count) {
  size_t i = 0;
  while (station_count > tiers[i].max_stations) i++;
  return tiers[i].percent;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static bool discount_in_force(const tk_discount *d, int64_t now_us) {
  return d && d->is_active && d->valid_from_us <= now_us && now_us < d->valid_until_us;
}

int64_t tk_discounted(const tk_discount *d, int64_t num, int64_t den, int64_t now_us) {
  if (!discount_in_force(d, now_us)) return tk_round_1000(num, den);
  switch (d->kind) {
  case TK_DISCOUNT_PERCENTAGE:
    return tk_round_1000(num * (100 - clamp64(d->value, 0, 100)), den * 100);
  case TK_DISCOUNT_FIXED_AMOUNT: { /* capped at the price */
    int64_t v = d->value > 0 ? d->value : 0;
    return v > num / den ? 0 : tk_round_1000(num - v * den, den);
  }
  case TK_DISCOUNT_FREE:
    return 0;
  }
  return tk_round_1000(num, den);
}

int64_t tk_promo_discount(const tk_promo *p, int64_t b) {
  if (!p || b <= 0) return 0;
  int64_t off = 0;
  switch (p->kind) {
  case TK_PROMO_PERCENTAGE: off = tk_round_1000(b * clamp64(p->value, 0, 100), 100); break;
  case TK_PROMO_FIXED_AMOUNT: off = p->value > 0 ? p->value : 0; break;
  case TK_PROMO_BUY_ONE_GET_ONE: off = tk_round_1000(b * 50, 100); break;
  case TK_PROMO_FREE_UPGRADE: off = tk_round_1000(b * 30, 100); break;
  }
  return off < b ? off : b;
}

/* ---- a priced purchase ---- */

static bool route_listed(const tk_promo *p, const char *route_id) {
  if (!route_id) return false;
  for (size_t i = 0; i < p->n_route_ids; i++)
    if (p->route_ids[i] && strcmp(p->route_ids[i], route_id) == 0) return true;
  return false;
}

static bool promo_pax(const tk_promo *p, tk_pax t) { return p->any_pax || p->pax[t]; }

/* The promotion's base for this purchase, or false when it does not apply (§8). */
static bool promo_base(const tk_promo *p, const tk_price_input *in, const tk_price *out, int64_t *b) {
  bool pass = tk_is_pass(in->type);
  if (!p->any_ticket_type && !p->ticket_types[in->type]) return false;
  if (p->kind == TK_PROMO_FREE_UPGRADE && !pass) return false;
  if (p->n_route_ids > 0) {
    if (pass) return false;
    for (size_t i = 0; i < in->n_segments; i++)
      if (!route_listed(p, in->segments[i].route_id)) return false;
  }
  if (pass) {
    if (!promo_pax(p, in->pass_pax)) return false;
    *b = out->per_person[in->pass_pax];
    return true;
  }
  bool anyone = false;
  *b = 0;
  for (int t = 0; t < TK_N_PAX; t++)
    if (promo_pax(p, (tk_pax)t) && in->counts[t] > 0) {
      anyone = true;
      *b += out->pax_subtotal[t];
    }
  return anyone;
}

/* Exact prices are kept as fractions over PRICE_DEN: base x tier percent x trip factor percent. */
#define PRICE_DEN 10000

tk_price_result tk_price_compute(const tk_price_input *in, tk_price *out) {
  memset(out, 0, sizeof *out);
  if ((unsigned)in->type >= TK_N_TICKET_TYPES) return TK_PRICE_BAD_COUNT;
  bool pass = tk_is_pass(in->type);
  int64_t exact; /* the price of one person before discounts, over PRICE_DEN */

  if (pass) {
    if ((unsigned)in->pass_pax >= TK_N_PAX) return TK_PRICE_BAD_COUNT;
    out->journey_price = in->pass_price > 0 ? in->pass_price : 0;
    out->trip_factor_percent = 100;
    out->total_passengers = 1;
    exact = out->journey_price * PRICE_DEN;
  } else {
    for (int t = 0; t < TK_N_PAX; t++) {
      if (in->counts[t] < 0 || in->counts[t] > TK_MAX_PASSENGERS) return TK_PRICE_BAD_COUNT;
      out->total_passengers += in->counts[t];
    }
    if (out->total_passengers < 1 || out->total_passengers > TK_MAX_PASSENGERS) return TK_PRICE_BAD_COUNT;
    if (in->n_segments > TK_MAX_SEGMENTS) return TK_PRICE_TOO_MANY_SEGMENTS;
    int64_t journey = 0; /* over 100 */
    for (size_t i = 0; i < in->n_segments; i++) {
      int64_t base = in->segments[i].base_price > 0 ? in->segments[i].base_price : 0;
      out->seg_percent[i] = tk_tier_percent(in->segments[i].station_count);
      journey += base * out->seg_percent[i];
      out->seg_price[i] = base * out->seg_percent[i] / 100;
    }
    out->journey_price = journey / 100;
    out->trip_factor_percent = in->type == TK_RETURN ? in->return_factor_percent : 100;
    if (out->trip_factor_percent < 0) out->trip_factor_percent = 0;
    exact = journey * out->trip_factor_percent;
  }
  out->per_journey = tk_round_1000(exact, PRICE_DEN);

  for (int t = 0; t < TK_N_PAX; t++) {
    out->per_person[t] = tk_discounted(in->discounts ? &in->discounts[t] : NULL, exact, PRICE_DEN, in->now_us);
    int count = pass ? (t == (int)in->pass_pax) : in->counts[t];
    out->pax_subtotal[t] = count * out->per_person[t];
    out->subtotal += out->pax_subtotal[t];
  }
  out->original = out->per_journey * out->total_passengers;
  out->passenger_discount = out->original > out->subtotal ? out->original - out->subtotal : 0;
  out->total = out->subtotal;

  if (in->promo) {
    int64_t b;
    if (!promo_base(in->promo, in, out, &b)) return TK_PRICE_PROMO_NOT_APPLICABLE;
    out->promo_base = b;
    out->promo_discount = tk_promo_discount(in->promo, b);
    out->total = out->subtotal > out->promo_discount ? out->subtotal - out->promo_discount : 0;
  }
  return TK_PRICE_OK;
}

/* ---- age ---- */

/* The civil (proleptic Gregorian) date of a day number since 1970-01-01, after Howard
 * Hinnant's civil_from_days. */
static void civil_from_days(long z, long *y, int *m, int *d) {
  z += 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;                                 /* [0, 146096] */
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);          /* [0, 365], from Mar 1 */
  long mp = (5 * doy + 2) / 153;                               /* [0, 11], March = 0 */
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int tk_age_years(long dob_day, long today) {
  long by, ty;
  int bm, bd, tm, td;
  civil_from_days(dob_day, &by, &bm, &bd);
  civil_from_days(today, &ty, &tm, &td);
  /* (month, day) pairs: a Feb 29 birthday is reached on Mar 1 of a common year. */
  bool reached = tm > bm || (tm == bm && td >= bd);
  return (int)(ty - by - (reached ? 0 : 1));
}

/* Age rules of §6, youngest first: below `under` years -> type. */
static const struct age_rule {
  int under;
  tk_pax pax;
} age_rules[] = {{12, TK_PAX_CHILD}, {18, TK_PAX_TEENAGER}, {60, TK_PAX_ADULT}, {INT32_MAX, TK_PAX_ELDER}};

tk_pax tk_pax_for_age(bool has_dob, long dob_day, long today) {
  if (!has_dob) return TK_PAX_ADULT;
  int age = tk_age_years(dob_day, today);
  size_t i = 0;
  while (age >= age_rules[i].under) i++;
  return age_rules[i].pax;
}
