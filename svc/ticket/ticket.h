/* The ticket service's shared declarations: the pricing rules (fares.c, pure), the
 * lifecycle table (lifecycle.c, pure), the catalog and promotion stores, quotes, purchases,
 * the tickets table, the payment-event consumers and the jobs. */
#ifndef METRO_TICKET_H
#define METRO_TICKET_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/events.h"
#include "common/pb_time.h"
#include "common/rpc_server.h"
#include "metro/ticket/v1/ticket.pb-c.h"
#include "metro/transport/v1/transport.pb-c.h"
#include "svc/gate/gatekit.h"

/* ==== fares.c: the price rules of the domain spec §5-§8 (pure, no I/O) ==== */

typedef enum tk_pax {
  TK_PAX_ADULT,
  TK_PAX_CHILD,
  TK_PAX_TEENAGER,
  TK_PAX_STUDENT,
  TK_PAX_SENIOR,
  TK_PAX_ELDER,
  TK_N_PAX
} tk_pax;

typedef enum tk_ticket_type {
  TK_ONEWAY,
  TK_RETURN,
  TK_DAY_PASS,
  TK_WEEKLY_PASS,
  TK_MONTHLY_PASS,
  TK_YEARLY_PASS,
  TK_LIFETIME_PASS,
  TK_N_TICKET_TYPES
} tk_ticket_type;

typedef enum tk_discount_kind { TK_DISCOUNT_PERCENTAGE, TK_DISCOUNT_FIXED_AMOUNT, TK_DISCOUNT_FREE } tk_discount_kind;

typedef enum tk_promo_kind {
  TK_PROMO_PERCENTAGE,
  TK_PROMO_FIXED_AMOUNT,
  TK_PROMO_BUY_ONE_GET_ONE,
  TK_PROMO_FREE_UPGRADE
} tk_promo_kind;

/* Names as in the API ("adult", "oneway", "percentage", "buy_one_get_one"). parse: false
 * when the name is unknown (NULL included). */
const char *tk_pax_name(tk_pax p);
bool tk_pax_parse(const char *s, tk_pax *out);
const char *tk_ticket_type_name(tk_ticket_type t);
bool tk_ticket_type_parse(const char *s, tk_ticket_type *out);
bool tk_is_pass(tk_ticket_type t);
/* Validity of a pass in days (1, 7, 30, 365, 36525); 0 for single and return. */
int tk_pass_validity_days(tk_ticket_type t);
/* Vietnamese display name ("Vé tháng"). */
const char *tk_ticket_type_display(tk_ticket_type t);
const char *tk_discount_kind_name(tk_discount_kind k);
bool tk_discount_kind_parse(const char *s, tk_discount_kind *out);
const char *tk_promo_kind_name(tk_promo_kind k);
bool tk_promo_kind_parse(const char *s, tk_promo_kind *out);

/* num/den rounded half up to a multiple of 1,000 (num >= 0, den > 0): 8,500 -> 9,000. */
int64_t tk_round_1000(int64_t num, int64_t den);
/* The §5 tier multiplier in percent for an inclusive station count: <=5 100, 6-10 120,
 * 11-15 140, 16-20 160, 21-25 180, >25 200. */
int tk_tier_percent(int station_count);

/* A passenger discount as the catalog holds it. Times in µs since the epoch;
 * valid_from_us INT64_MIN / valid_until_us INT64_MAX when open. */
typedef struct tk_discount {
  tk_discount_kind kind;
  int64_t value;
  bool is_active;
  int64_t valid_from_us, valid_until_us;
} tk_discount;

/* The per-person price: `num/den` VND (the exact journey or pass price) with the discount
 * applied when it is in force at now_us, rounded once to 1,000. */
int64_t tk_discounted(const tk_discount *d, int64_t num, int64_t den, int64_t now_us);

/* A promotion as the pricing needs it (eligibility of time, limits and activity is checked
 * by the store under its row lock; this checks types and lines). */
typedef struct tk_promo {
  tk_promo_kind kind;
  int64_t value;
  bool any_ticket_type;                      /* applicable_ticket_types empty */
  bool ticket_types[TK_N_TICKET_TYPES];
  bool any_pax;                              /* applicable_passenger_types empty */
  bool pax[TK_N_PAX];
  const char *const *route_ids;              /* applicable_route_ids; n_route_ids 0 = all */
  size_t n_route_ids;
} tk_promo;

/* The promotion's discount on base b, rounded to 1,000 and capped at b. */
int64_t tk_promo_discount(const tk_promo *p, int64_t b);

#define TK_MAX_SEGMENTS 32

typedef struct tk_segment {
  const char *route_id;
  int station_count;
  int64_t base_price;
} tk_segment;

/* Everything one price depends on. */
typedef struct tk_price_input {
  tk_ticket_type type;
  /* single and return */
  const tk_segment *segments;
  size_t n_segments;
  int counts[TK_N_PAX];
  int return_factor_percent;                 /* 150 */
  /* passes */
  int64_t pass_price;
  tk_pax pass_pax;                           /* the holder's type */
  const tk_discount *discounts;              /* [TK_N_PAX] */
  int64_t now_us;
  const tk_promo *promo;                     /* NULL = none */
} tk_price_input;

typedef struct tk_price {
  int seg_percent[TK_MAX_SEGMENTS];
  int64_t seg_price[TK_MAX_SEGMENTS];
  int64_t journey_price;                     /* sum of the segments; the pass price for passes */
  int trip_factor_percent;                   /* 100 or the return factor (100 for passes) */
  int64_t per_journey;                       /* journey x factor, rounded to 1,000 (display) */
  int64_t per_person[TK_N_PAX];              /* after the discount, rounded */
  int64_t pax_subtotal[TK_N_PAX];
  int total_passengers;
  int64_t original;                          /* per_journey x people */
  int64_t subtotal;                          /* sum of the passenger subtotals */
  int64_t passenger_discount;                /* original - subtotal (never negative) */
  int64_t promo_base;                        /* the base the promotion applied to */
  int64_t promo_discount;
  int64_t total;                             /* subtotal - promotion, never below 0 */
} tk_price;

typedef enum tk_price_result {
  TK_PRICE_OK,
  TK_PRICE_BAD_COUNT,                        /* 1-20 people on single/return (INVALID_PASSENGER_COUNT) */
  TK_PRICE_TOO_MANY_SEGMENTS,
  TK_PRICE_PROMO_NOT_APPLICABLE,             /* ticket type, lines, passenger types, free_upgrade on single */
} tk_price_result;

#define TK_MAX_PASSENGERS 20

tk_price_result tk_price_compute(const tk_price_input *in, tk_price *out);

/* The passenger type of a pass holder (§6): age in completed years on `today` (days since
 * 1970-01-01, local) from the date of birth (dob_day, or has_dob false = adult). A Feb 29
 * birthday falls on Mar 1 in common years. */
tk_pax tk_pax_for_age(bool has_dob, long dob_day, long today);
int tk_age_years(long dob_day, long today);

/* ==== lifecycle.c: the §9.1 state machine (pure) ==== */

typedef enum tk_status {
  TK_PENDING_PAYMENT,
  TK_ACTIVE,
  TK_INACTIVE,
  TK_USED,
  TK_EXPIRED,
  TK_CANCELLED,
  TK_REFUNDED,
  TK_ABUSED,
  TK_N_STATUSES
} tk_status;

typedef enum tk_trigger {
  TK_ON_PAYMENT_COMPLETED,   /* pending_payment -> active (single/return) | inactive (pass) */
  TK_ON_PAYMENT_FAILED,      /* payment.failed / payment.cancelled: pending -> cancelled */
  TK_ON_OWNER_CANCEL,        /* pending; untapped active single/return; inactive pass */
  TK_ON_ADMIN_CANCEL,        /* pending, active, inactive, abused -> cancelled */
  TK_ON_DEADLINE,            /* pending -> expired (job) */
  TK_ON_ACTIVATE,            /* inactive pass -> active (owner, first entry tap, job) */
  TK_ON_LAST_EXIT,           /* active/abused single/return -> used */
  TK_ON_ABUSE,               /* active -> abused */
  TK_ON_VALIDITY_ENDED,      /* active/abused -> expired */
  TK_ON_CLEAR_ABUSE,         /* abused -> active */
  TK_ON_REFUNDED,            /* cancelled -> refunded */
  TK_N_TRIGGERS
} tk_trigger;

const char *tk_status_name(tk_status s);
bool tk_status_parse(const char *s, tk_status *out);
bool tk_status_terminal(tk_status s); /* used, expired, refunded */

/* The state a trigger leads to from `from` for a ticket of `type` (tapped: a gate has
 * accepted a tap), or false when the transition is not allowed. */
bool tk_transition(tk_status from, tk_trigger trigger, tk_ticket_type type, bool tapped, tk_status *to);

/* ==== gate_rules.c: the decision on one tap (domain spec §10, §11.3; pure) ==== */

typedef enum tk_direction { TK_ENTRY, TK_EXIT } tk_direction;

/* What the decision needs of a ticket (the row, locked) and its recent taps. */
typedef struct tk_gate_state {
  tk_status status;
  tk_ticket_type type;
  int journeys_allowed, journeys_completed;  /* allowed 0 = unlimited (passes) */
  bool inside;
  const char *entry_station_id;              /* "" when none */
  int64_t entry_at_us;
  const char *origin, *destination;          /* single/return */
  int64_t valid_from_us, valid_until_us;     /* 0 = unset (an inactive pass) */
  int64_t last_tap_us;                       /* the last counted tap, 0 = none */
  int taps_last_window;                      /* counted taps in the burst window before now */
  /* the last accepted tap, for duplicates */
  const char *last_accept_gate;              /* "" when none */
  tk_direction last_accept_direction;
  int64_t last_accept_us;
} tk_gate_state;

typedef struct tk_gate_rules {
  int64_t min_interval_us;                   /* 10 s: a tap this soon after the previous is abuse */
  int64_t burst_window_us;                   /* 60 s */
  int burst_max;                             /* 3: passes may tap 3 times per window */
  int64_t open_entry_us;                     /* 180 min: a pass's entry stops blocking after this */
  int64_t duplicate_us;                      /* 10 s: an identical repeat of an accepted tap */
} tk_gate_rules;

typedef enum tk_code_state {
  TK_CODE_STATIC,                            /* a static token, no rotating code */
  TK_CODE_FRESH,                             /* a rotating code that checked out */
  TK_CODE_BAD,                               /* wrong digits or outside the window */
  TK_CODE_REPLAYED,
} tk_code_state;

typedef struct tk_tap_input {
  tk_direction direction;
  const char *station_id;
  const char *gate_id;
  bool station_active, station_open;
  tk_code_state code;
  bool repeats_last_code;                    /* a rotating code whose counter is the last one used */
  int64_t now_us;
} tk_tap_input;

typedef struct tk_tap_decision {
  bool accepted;
  bool duplicate;                            /* answered as the accepted tap it repeats */
  const char *reason;                        /* NULL when accepted */
  bool counted;                              /* counts for the abuse rules */
  bool becomes_abused;
  bool activates_pass;                       /* the first entry of an inactive pass */
  const char *expected_exit;                 /* WRONG_EXIT_STATION: where this journey ends */
  /* the state after an accepted tap */
  tk_status status;
  bool inside;
  int journeys_completed;
  bool journey_completed;                    /* an exit that ends a journey */
} tk_tap_decision;

void tk_tap_decide(const tk_gate_rules *rules, const tk_gate_state *t, const tk_tap_input *in, tk_tap_decision *out);
/* -1 for passes (unlimited). */
int tk_journeys_remaining(tk_ticket_type type, int allowed, int completed);
/* Where the current journey of a single/return ends after `completed` journeys: journey 1 at
 * the destination, journey 2 (return) back at the origin. */
const char *tk_journey_end(tk_ticket_type type, int completed, const char *origin, const char *destination);

/* ==== catalog.c: fares, passenger discounts and passes (tables of 001_catalog.sql) ==== */

typedef struct tk_pass_row {
  bool priced;
  int64_t price;
  int validity_days;
  bool is_active;
} tk_pass_row;

/* What pricing reads from the catalog, loaded in one round trip. */
typedef struct tk_catalog {
  tk_discount discounts[TK_N_PAX];
  tk_pass_row passes[TK_N_TICKET_TYPES];     /* indexed by the pass's ticket type */
  size_t n_fares;
  const char **fare_route_ids;               /* routes with a price of their own */
  int64_t *fare_prices;
} tk_catalog;

/* The catalog from the database (catalog.c). */
rpc_status tk_catalog_read(rpc_ctx *ctx, tk_catalog *out);
/* The catalog as pricing uses it (catalog_cache.c): a process-wide snapshot at most
 * METRO_CATALOG_CACHE_MS old (other replicas' writes show within that), copied into the
 * caller's arena; this replica's own writes drop it at once. */
rpc_status tk_catalog_load(rpc_ctx *ctx, tk_catalog *out);
void tk_catalog_invalidate(void);
/* The base fare of a line: its own row, else the configured default. */
int64_t tk_catalog_base_price(const rpc_ctx *ctx, const tk_catalog *c, const char *route_id);

/* Public reads (handlers in catalog.c). */
rpc_status tk_list_fares(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_list_passes(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_list_passenger_discounts(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
/* Admin writes, each publishing catalog.changed (entity "fare", "pass", "discount"). */
rpc_status tk_update_fare(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_update_pass(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_create_passenger_discount(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_update_passenger_discount(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

/* ==== promotions.c: promotion administration (catalog.changed entity "promotion") ==== */

rpc_status tk_create_promotion(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_list_promotions(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_get_promotion(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_update_promotion(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_delete_promotion(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

/* ==== redemption.c: promotion reservations (§8), atomic under the promotion's row lock ==== */

/* A promotion found by code for a purchase, with what pricing needs (arena memory). */
typedef struct tk_promo_row {
  char *promotion_id;
  char *code;
  tk_promo promo;
} tk_promo_row;

/* Looks the code up (case-insensitive) and checks that it is active, inside its window and
 * under both limits for the passenger; `lock` takes the row lock (purchase transaction).
 * NOT_FOUND PROMOTION_NOT_FOUND, FAILED_PRECONDITION PROMOTION_NOT_APPLICABLE (inactive,
 * outside its window) or PROMOTION_EXHAUSTED (a limit reached). */
rpc_status tk_promo_find(rpc_ctx *ctx, const char *code, const char *passenger_id, bool lock, tk_promo_row *out);
/* Inside the purchase transaction, after tk_promo_find(lock = true): the reservation row. */
rpc_status tk_promo_reserve(rpc_ctx *ctx, const tk_promo_row *p, const char *ticket_id, const char *passenger_id,
                            bool redeemed_at_once);
/* reserved -> redeemed / released for a ticket (no-op when it has none or it moved already). */
rpc_status tk_promo_redeem(rpc_ctx *ctx, const char *ticket_id);
rpc_status tk_promo_release(rpc_ctx *ctx, const char *ticket_id);

/* ==== quotes.c: a priced purchase (asks transport for the journey) ==== */

/* Validates the purchase fields (each error names its field), plans the journey through
 * transport, loads the catalog and prices it. For passes, `pax` is the holder's type
 * (decided by the caller from the profile). promo may be NULL. */
rpc_status tk_quote(rpc_ctx *ctx, const Metro__Ticket__V1__CreateTicketRequest *req, tk_pax pass_pax,
                    const tk_promo_row *promo, Metro__Ticket__V1__Quote **out);
/* The cheaper of the age type and (for a verified student) student for a pass. */
rpc_status tk_pass_holder_type(rpc_ctx *ctx, const tk_catalog *c, tk_ticket_type pass, const char *date_of_birth,
                               const char *student_verified_until, tk_pax *out);

/* ==== purchase.c: QuoteTicket and CreateTicket ==== */

rpc_status tk_quote_ticket(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_create_ticket(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

/* ==== profile.c: the caller's passenger profile and verification ==== */

typedef struct tk_passenger {
  const char *passenger_id;
  const char *user_id;
  const char *date_of_birth;            /* "" when unknown */
  const char *student_verified_until;   /* "" when none */
} tk_passenger;

/* The caller's passenger profile from the user service (NOT_FOUND PASSENGER_NOT_FOUND);
 * with require_verified, 403 EMAIL_NOT_VERIFIED unless auth says the email is verified. */
rpc_status tk_caller_passenger(rpc_ctx *ctx, bool require_verified, tk_passenger *out);

/* ==== tickets_store.c: the tickets table ==== */

#define TK_MAX_RECENT_TAPS 16 /* counted tap times kept for the burst rule (its limit is at most this) */

/* A ticket row as the lifecycle needs it. */
typedef struct tk_row {
  Metro__Ticket__V1__Ticket *ticket;    /* the API view */
  tk_status status;
  tk_ticket_type type;
  const char *user_id;
  const char *promotion_id;
  int version;
  bool tapped;
  int validity_days;
  /* gates */
  const char *qr_token;                 /* NULL until the ticket became usable */
  bool has_secret;
  uint8_t secret[GK_SECRET_LEN];        /* the rotation secret: never leaves the service but in the owner's code */
  bool inside;
  const char *entry_station_id;         /* "" when none */
  int64_t entry_at_us, last_tap_us;
  int64_t last_rotating_counter;
  const char **route_ids;               /* the journey's lines */
  size_t n_route_ids;
  int64_t recent_tap_us[TK_MAX_RECENT_TAPS]; /* the last counted taps, oldest first */
  int n_recent_taps;
  const char *last_accept_gate;         /* "" when none */
  bool last_accept_exit;
  int64_t last_accept_us;
} tk_row;

/* secret: the rotation secret as a bytea literal; qr_token/qr_kid NULL until usable. */
rpc_status tk_ticket_insert(rpc_ctx *ctx, const Metro__Ticket__V1__Ticket *t, const char *user_id,
                            const Metro__Ticket__V1__Quote *q, const char *promotion_id, int validity_days,
                            const char *secret, const char *qr_token, const char *qr_kid);

/* The gate state an accepted (or abuse-flagging) tap leaves, under the same conditional
 * update on (status, version). */
typedef struct tk_gate_change {
  tk_status to;
  bool inside;
  const char *entry_station_id;              /* NULL = unchanged */
  int64_t entry_at_us;                       /* 0 = unchanged */
  int journeys_completed;
  int64_t last_tap_us;                       /* 0 = unchanged */
  int64_t last_rotating_counter;             /* 0 = unchanged */
  int64_t valid_from_us, valid_until_us;     /* 0 = unchanged (a pass's first entry sets them) */
  bool tapped;
  const char *recent_tap_us;                 /* bigint[] literal of the counted taps kept; NULL = unchanged */
  const char *accept_gate;                   /* an accepted tap: its gate, direction and time; NULL = unchanged */
  bool accept_exit;
  int64_t accept_us;
} tk_gate_change;
rpc_status tk_ticket_gate_update(rpc_ctx *ctx, const tk_row *row, const tk_gate_change *c, bool *applied, tk_row **out);
/* found = NULL when no such ticket; for_update locks the row. */
rpc_status tk_ticket_get(rpc_ctx *ctx, const char *ticket_id, bool for_update, tk_row **out);
/* only_user_id: a passenger's own tickets (NULL = everybody's, for staff). */
rpc_status tk_ticket_list(rpc_ctx *ctx, const Metro__Ticket__V1__ListTicketsRequest *r, const char *only_user_id,
                          Metro__Ticket__V1__ListTicketsResponse *out);

/* The columns a transition may change; -1 / NULL leave one as it is. */
typedef struct tk_change {
  tk_status to;
  int64_t valid_from_us, valid_until_us;     /* 0 = unchanged */
  int64_t auto_activate_us;                  /* 0 = unchanged */
  int refund_percent, refund_amount;         /* -1 = unchanged */
  const char *cancel_reason;
  const char *payment_id;
  const char *qr_token, *qr_kid;             /* NULL = unchanged */
} tk_change;

/* UPDATE ... WHERE ticket_id AND status = row->status AND version = row->version: *applied
 * false when another writer moved the ticket first. The row is re-read into *out. */
rpc_status tk_ticket_transition(rpc_ctx *ctx, const tk_row *row, const tk_change *c, bool *applied, tk_row **out);

/* ==== lifecycle_effects.c: a transition with its effects (redemption, events) ==== */

/* Applies trigger to the ticket inside the caller's transaction: the conditional update,
 * the promotion step and the event. 409 INVALID_STATUS_TRANSITION when not allowed. */
typedef struct tk_move {
  tk_trigger trigger;
  int refund_percent;                        /* cancellations */
  const char *reason;
  int64_t at_us;                             /* activation: validFrom (0 = now) */
  const char *payment_id;
} tk_move;
rpc_status tk_ticket_move(rpc_ctx *ctx, const tk_row *row, const tk_move *m, tk_row **out);
/* ticket.activated for a ticket that can be used now (trigger: payment, free, owner, job, tap). */
rpc_status tk_publish_activated(rpc_ctx *ctx, const Metro__Ticket__V1__Ticket *t, const char *user_id,
                                const char *qr_token, const char *trigger);

/* ==== idempotency.c: Idempotency-Key of purchases ==== */

typedef struct tk_idem {
  const char *key;                           /* NULL = none given */
  uint8_t hash[32];
} tk_idem;

/* Claims (user, key) in the current transaction with `t` as its answer. When a previous
 * purchase holds the key: same hash -> *replay = its stored answer; another hash -> 409
 * IDEMPOTENCY_KEY_REUSED. */
rpc_status tk_idem_claim(rpc_ctx *ctx, const char *user_id, const tk_idem *k, const Metro__Ticket__V1__Ticket *t,
                         Metro__Ticket__V1__Ticket **replay);
/* Before any work: the answer of an earlier purchase with this key (so a retry is answered
 * even when the promotion it used is exhausted by now), or IDEMPOTENCY_KEY_REUSED. */
rpc_status tk_idem_lookup(rpc_ctx *ctx, const char *user_id, const tk_idem *k, Metro__Ticket__V1__Ticket **replay);
/* 400 INVALID_IDEMPOTENCY_KEY for a key that is not 1-128 printable ASCII characters. */
rpc_status tk_idem_prepare(rpc_ctx *ctx, const char *key, const ProtobufCMessage *request, tk_idem *out);

/* ==== state and settings (main.c) ==== */

typedef struct tk_settings {
  char *transport_addr;
  char *user_addr;
  char *auth_addr;
  int64_t call_timeout_ms;
  int64_t default_base_price;
  int64_t return_factor_percent;
  int64_t payment_deadline_s;
  int64_t single_validity_days;
  int64_t auto_activate_days;
  int64_t owner_refund_percent;
  bool require_verified_email;
  char *qr_key_file, *qr_kid, *qr_previous_key_files;
  int64_t abuse_min_interval_ms, abuse_window_ms, abuse_window_max, open_entry_min, duplicate_tap_ms;
  int64_t station_cache_ms;
  int64_t expiring_soon_days;
  int64_t catalog_cache_ms;
} tk_settings;

typedef struct tk_state {
  tk_settings settings;
  gk_keyring keys;                           /* QR signing key and retired keys (qr.c) */
} tk_state;

static inline const tk_settings *tk_cfg(const rpc_ctx *ctx) { return &((const tk_state *)ctx->state)->settings; }

/* ==== qr.c: keys, tokens and rotating codes ==== */

bool tk_qr_load_keys(tk_state *s);
const gk_keyring *tk_keys(const rpc_ctx *ctx);
/* Signs the static token of a ticket becoming usable. */
rpc_status tk_qr_issue(rpc_ctx *ctx, const Metro__Ticket__V1__Ticket *t, int64_t now_us, const char **token,
                       const char **kid);
/* A fresh 32-byte rotation secret as a bytea literal (arena). */
const char *tk_qr_new_secret(rpc_ctx *ctx);
rpc_status tk_get_gate_keys(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_get_ticket_code(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

/* ==== gates.c: taps, gates, abuse clearing and assisted exits ==== */

rpc_status tk_tap(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_clear_abuse(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_assisted_exit(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_create_gate(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_list_gates(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

/* ==== stations.c: stations and gates for taps (cached briefly in-process) ==== */

typedef struct tk_station {
  bool found, is_active;
  int open_s, close_s;                       /* local seconds of the day */
} tk_station;
rpc_status tk_station_get(rpc_ctx *ctx, const char *station_id, tk_station *out);
/* A registered gate in service and its station (*found false when none). */
rpc_status tk_gate_get(rpc_ctx *ctx, const char *gate_id, bool *found, const char **station_id);
/* Open at the local time of now_us (closing time exclusive). */
bool tk_station_open_at(const tk_station *s, int64_t now_us);

/* ==== handlers.c, consumers.c, jobs.c ==== */

/* ==== affected.c: the holders a station closure concerns (notification fan-out) ==== */

rpc_status tk_notify_expiring_soon(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_expire_promotions(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_list_affected_holders(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

extern const rpc_service_impl ticket_service_impl;
extern const ev_subscription tk_subscriptions[];
extern const size_t tk_n_subscriptions;

rpc_status tk_expire_unpaid(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_expire_ended(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);
rpc_status tk_auto_activate_passes(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out);

/* ==== small shared helpers (util.c) ==== */

#define TK_DAY_US (86400LL * 1000000)
/* SQL: a timestamptz column as µs since the epoch, and a µs parameter as a timestamptz. */

/* A station, line or gate id: 1-64 of [a-z0-9-]. */
bool tk_is_slug(const char *s);
/* 1-max printable ASCII characters without spaces (tap ids, Idempotency-Keys). */
bool tk_is_token(const char *s, size_t max);
/* Seconds since local (Asia/Ho_Chi_Minh) midnight of an instant. */
int tk_local_seconds(int64_t us);

int64_t tk_now_us(void);
/* Local (Asia/Ho_Chi_Minh) day number of an instant. */
long tk_local_day(int64_t us);
/* A new UUID v4 in the arena. */
const char *tk_uuid(rpc_ctx *ctx);
bool tk_is_uuid(const char *s);
rpc_status tk_finish_tx(rpc_ctx *ctx, rpc_status st);
/* One unary call to another service ("/metro.transport.v1.TransportService/ListLines") at
 * addr, forwarding the caller's metadata, with the configured call timeout. */
rpc_status tk_call(rpc_ctx *ctx, const char *addr, const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp);
/* Every line from transport (network order, with ordered stations). */
rpc_status tk_transport_lines(rpc_ctx *ctx, Metro__Transport__V1__ListLinesResponse **out);
/* "{a,b,"c d"}" (text[] in text form) into its elements, at most 64 (arena). */
size_t tk_text_array(rpc_ctx *ctx, const char *text, const char ***out);
/* Publishes catalog.changed {entity, id} in the current transaction. */
rpc_status tk_publish_catalog_changed(rpc_ctx *ctx, const char *entity, const char *id);

#endif
