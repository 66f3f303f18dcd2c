/* The fare catalog (domain spec §5-§7): base fares per line, passes and passenger discounts
 * as pricing loads them, their public listings, and the admin writes that publish catalog.changed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/field_mask.h"
#include "common/pg.h"
#include "common/text.h"
#include "svc/ticket/ticket.h"

#define US SQL_US
/* A µs-since-epoch parameter as a timestamptz (NULL stays NULL); exact to the microsecond. */
#define TS(param) "(timestamptz 'epoch' + " param "::bigint * interval '1 microsecond')"

#define DISCOUNT_COLUMNS                                                                                  \
  "passenger_type, discount_type, value, is_active, " US("valid_from") ", " US("valid_until") ", description, " \
  US("updated_at")
#define PASS_COLUMNS "pass_type, price, validity_days, is_active, " US("updated_at")

#define MIN_FARE 1000
#define MAX_FARE 1000000
#define MIN_PASS_PRICE 1000
#define MAX_PASS_PRICE 100000000
#define MAX_DESCRIPTION_CHARS 200

/* ---- cells and parameters ---- */

static int64_t cell_i64(const PGresult *r, int row, int col, int64_t if_null) {
  const char *v = pg_value(r, row, col);
  return v ? strtoll(v, NULL, 10) : if_null;
}

static bool cell_bool(const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return v && strcmp(v, "t") == 0;
}

static char *cell_str(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return arena_strdup(ctx->arena, v ? v : "");
}

static Google__Protobuf__Timestamp *cell_time(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  return pg_value(r, row, col) ? pb_timestamp(ctx, cell_i64(r, row, col, 0)) : NULL;
}

static const char *int_param(rpc_ctx *ctx, int64_t v) { return arena_printf(ctx->arena, "%lld", (long long)v); }
static const char *bool_param(bool b) { return b ? "t" : "f"; }
static const char *time_param(rpc_ctx *ctx, const Google__Protobuf__Timestamp *ts) {
  return ts ? int_param(ctx, pb_timestamp_us(ts)) : NULL;
}

/* A Timestamp inside 0001-01-01..9999-12-31 (what JSON can carry and µs arithmetic survives). */
static bool time_in_range(const Google__Protobuf__Timestamp *ts) {
  return !ts || (ts->seconds >= -62135596800LL && ts->seconds <= 253402300799LL && ts->nanos >= 0 &&
                 ts->nanos <= 999999999);
}

static rpc_status not_found(rpc_ctx *ctx, const char *reason, const char *what, const char *id) {
  bool printable = id && strlen(id) <= 64 && !text_has_control(id) && text_utf8_length(id) >= 0;
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, reason, "no %s \"%s\"", what, printable ? id : "?");
}

/* ---- rows ---- */

/* A type without a row (never after the seed) pays the full price. */
static const tk_discount no_discount = {TK_DISCOUNT_PERCENTAGE, 0, true, INT64_MIN, INT64_MAX};

static Metro__Ticket__V1__PassengerDiscount *discount_msg(rpc_ctx *ctx, const PGresult *r, int row) {
  Metro__Ticket__V1__PassengerDiscount *d =
      RPC_NEW(ctx, Metro__Ticket__V1__PassengerDiscount, metro__ticket__v1__passenger_discount__init);
  d->passenger_type = cell_str(ctx, r, row, 0);
  d->discount_type = cell_str(ctx, r, row, 1);
  d->value = (int32_t)cell_i64(r, row, 2, 0);
  d->is_active = cell_bool(r, row, 3);
  d->valid_from = cell_time(ctx, r, row, 4);
  d->valid_until = cell_time(ctx, r, row, 5);
  d->description = cell_str(ctx, r, row, 6);
  d->update_time = cell_time(ctx, r, row, 7);
  return d;
}

static Metro__Ticket__V1__PassengerDiscount *default_discount_msg(rpc_ctx *ctx, tk_pax p) {
  Metro__Ticket__V1__PassengerDiscount *d =
      RPC_NEW(ctx, Metro__Ticket__V1__PassengerDiscount, metro__ticket__v1__passenger_discount__init);
  d->passenger_type = (char *)tk_pax_name(p);
  d->discount_type = (char *)tk_discount_kind_name(no_discount.kind);
  d->is_active = no_discount.is_active;
  return d;
}

static tk_pass_row pass_of_row(const PGresult *r, int row) {
  return (tk_pass_row){.priced = pg_value(r, row, 1) != NULL, .price = cell_i64(r, row, 1, 0),
                       .validity_days = (int)cell_i64(r, row, 2, 0), .is_active = cell_bool(r, row, 3)};
}

static Metro__Ticket__V1__Pass *pass_msg(rpc_ctx *ctx, tk_ticket_type t, const tk_pass_row *p,
                                         Google__Protobuf__Timestamp *updated) {
  Metro__Ticket__V1__Pass *m = RPC_NEW(ctx, Metro__Ticket__V1__Pass, metro__ticket__v1__pass__init);
  m->pass_type = (char *)tk_ticket_type_name(t);
  if (p->priced) {
    m->price = RPC_NEW(ctx, Google__Protobuf__Int32Value, google__protobuf__int32_value__init);
    m->price->value = (int32_t)p->price;
  }
  m->validity_days = p->validity_days;
  m->is_active = p->is_active;
  m->on_sale = p->is_active && p->priced;
  m->name = (char *)tk_ticket_type_display(t);
  m->update_time = updated;
  return m;
}

/* ---- what pricing reads ---- */

rpc_status tk_catalog_read(rpc_ctx *ctx, tk_catalog *out) {
  memset(out, 0, sizeof *out);
  for (int p = 0; p < TK_N_PAX; p++) out->discounts[p] = no_discount;
  for (int t = 0; t < TK_N_TICKET_TYPES; t++)
    out->passes[t] = (tk_pass_row){.validity_days = tk_pass_validity_days((tk_ticket_type)t)};
  PGresult *r;
  /* One round trip: kind, key, discount type, value/price, active, from/validity days, until. */
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT 'd', passenger_type, discount_type, value::bigint, is_active, " US("valid_from")
                          ", " US("valid_until") " FROM passenger_discounts "
                          "UNION ALL SELECT 'p', pass_type, NULL, price::bigint, is_active, validity_days::bigint, "
                          "NULL FROM passes "
                          "UNION ALL SELECT 'f', route_id, NULL, base_price::bigint, true, NULL, NULL FROM fares",
                          0, NULL);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r);
  out->fare_route_ids = arena_alloc(ctx->arena, sizeof(char *) * (size_t)(n ? n : 1));
  out->fare_prices = arena_alloc(ctx->arena, sizeof(int64_t) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) {
    const char *kind = pg_value(r, i, 0), *key = pg_value(r, i, 1);
    tk_pax pax;
    tk_ticket_type type;
    if (kind[0] == 'd' && tk_pax_parse(key, &pax)) {
      tk_discount d = {.value = cell_i64(r, i, 3, 0), .is_active = cell_bool(r, i, 4),
                       .valid_from_us = cell_i64(r, i, 5, INT64_MIN), .valid_until_us = cell_i64(r, i, 6, INT64_MAX)};
      if (tk_discount_kind_parse(pg_value(r, i, 2), &d.kind)) out->discounts[pax] = d;
    } else if (kind[0] == 'p' && tk_ticket_type_parse(key, &type) && tk_is_pass(type)) {
      out->passes[type] = (tk_pass_row){.priced = pg_value(r, i, 3) != NULL, .price = cell_i64(r, i, 3, 0),
                                        .validity_days = (int)cell_i64(r, i, 5, 0), .is_active = cell_bool(r, i, 4)};
    } else if (kind[0] == 'f') {
      out->fare_route_ids[out->n_fares] = cell_str(ctx, r, i, 1);
      out->fare_prices[out->n_fares++] = cell_i64(r, i, 3, 0);
    }
  }
  return RPC_OK;
}

int64_t tk_catalog_base_price(const rpc_ctx *ctx, const tk_catalog *c, const char *route_id) {
  for (size_t i = 0; route_id && i < c->n_fares; i++)
    if (strcmp(c->fare_route_ids[i], route_id) == 0) return c->fare_prices[i];
  return tk_cfg(ctx)->default_base_price;
}

/* ---- public reads ---- */

/* The §5 tiers by their first station count; the multiplier comes from the pricing rules. */
static const int tier_starts[] = {1, 6, 11, 16, 21, 26};
#define N_TIERS (sizeof tier_starts / sizeof tier_starts[0])

static Metro__Ticket__V1__Fare *fare_msg(rpc_ctx *ctx, const Metro__Transport__V1__Line *line, int64_t price,
                                         Google__Protobuf__Timestamp *updated) {
  Metro__Ticket__V1__Fare *f = RPC_NEW(ctx, Metro__Ticket__V1__Fare, metro__ticket__v1__fare__init);
  f->route_id = line->route_id;
  f->route_code = line->code;
  f->route_name = line->name;
  f->base_price = (int32_t)price;
  f->is_active = line->is_active;
  f->update_time = updated;
  return f;
}

rpc_status tk_list_fares(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  Metro__Transport__V1__ListLinesResponse *lines;
  rpc_status st = tk_transport_lines(ctx, &lines);
  if (!rpc_ok(st)) return st;
  PGresult *r;
  if (!rpc_ok(st = pg_exec(ctx->arena, &r, "SELECT route_id, base_price, " US("updated_at") " FROM fares", 0, NULL)))
    return st;
  Metro__Ticket__V1__ListFaresResponse *resp =
      RPC_NEW(ctx, Metro__Ticket__V1__ListFaresResponse, metro__ticket__v1__list_fares_response__init);
  resp->fares = arena_alloc(ctx->arena, sizeof(void *) * (lines->n_lines ? lines->n_lines : 1));
  for (size_t i = 0; i < lines->n_lines; i++) {
    const Metro__Transport__V1__Line *line = lines->lines[i];
    int64_t price = tk_cfg(ctx)->default_base_price;
    Google__Protobuf__Timestamp *updated = NULL;
    for (int k = 0; k < PQntuples(r); k++)
      if (strcmp(pg_value(r, k, 0), line->route_id) == 0) {
        price = cell_i64(r, k, 1, price);
        updated = cell_time(ctx, r, k, 2);
        break;
      }
    resp->fares[resp->n_fares++] = fare_msg(ctx, line, price, updated);
  }
  resp->tiers = arena_alloc(ctx->arena, sizeof(void *) * N_TIERS);
  for (size_t i = 0; i < N_TIERS; i++) {
    Metro__Ticket__V1__FareTier *t = RPC_NEW(ctx, Metro__Ticket__V1__FareTier, metro__ticket__v1__fare_tier__init);
    t->min_stations = tier_starts[i];
    t->max_stations = i + 1 < N_TIERS ? tier_starts[i + 1] - 1 : 0;
    t->multiplier_percent = tk_tier_percent(tier_starts[i]);
    resp->tiers[resp->n_tiers++] = t;
  }
  resp->return_factor_percent = (int32_t)tk_cfg(ctx)->return_factor_percent;
  *out = &resp->base;
  return RPC_OK;
}

rpc_status tk_list_passes(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT " PASS_COLUMNS " FROM passes", 0, NULL);
  if (!rpc_ok(st)) return st;
  Metro__Ticket__V1__ListPassesResponse *resp =
      RPC_NEW(ctx, Metro__Ticket__V1__ListPassesResponse, metro__ticket__v1__list_passes_response__init);
  resp->passes = arena_alloc(ctx->arena, sizeof(void *) * TK_N_TICKET_TYPES);
  for (int t = TK_DAY_PASS; t <= TK_LIFETIME_PASS; t++) {
    /* A pass without a row (never after the seed) is listed off sale. */
    tk_pass_row p = {.validity_days = tk_pass_validity_days((tk_ticket_type)t)};
    Google__Protobuf__Timestamp *updated = NULL;
    for (int k = 0; k < PQntuples(r); k++)
      if (strcmp(pg_value(r, k, 0), tk_ticket_type_name((tk_ticket_type)t)) == 0) {
        p = pass_of_row(r, k);
        updated = cell_time(ctx, r, k, 4);
        break;
      }
    resp->passes[resp->n_passes++] = pass_msg(ctx, (tk_ticket_type)t, &p, updated);
  }
  *out = &resp->base;
  return RPC_OK;
}

rpc_status tk_list_passenger_discounts(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)msg;
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT " DISCOUNT_COLUMNS " FROM passenger_discounts", 0, NULL);
  if (!rpc_ok(st)) return st;
  Metro__Ticket__V1__ListPassengerDiscountsResponse *resp =
      RPC_NEW(ctx, Metro__Ticket__V1__ListPassengerDiscountsResponse,
              metro__ticket__v1__list_passenger_discounts_response__init);
  resp->discounts = arena_alloc(ctx->arena, sizeof(void *) * TK_N_PAX);
  for (int p = 0; p < TK_N_PAX; p++) {
    Metro__Ticket__V1__PassengerDiscount *d = NULL;
    for (int k = 0; k < PQntuples(r) && !d; k++)
      if (strcmp(pg_value(r, k, 0), tk_pax_name((tk_pax)p)) == 0) d = discount_msg(ctx, r, k);
    resp->discounts[resp->n_discounts++] = d ? d : default_discount_msg(ctx, (tk_pax)p);
  }
  *out = &resp->base;
  return RPC_OK;
}

/* ---- fares ---- */

rpc_status tk_update_fare(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__UpdateFareRequest *req = (const void *)msg;
  if (req->base_price < MIN_FARE || req->base_price > MAX_FARE || req->base_price % 1000 != 0)
    return rpc_invalid(ctx->arena, "basePrice", "INVALID_PRICE",
                       "basePrice must be a multiple of 1,000 VND between 1,000 and 1,000,000");
  Metro__Transport__V1__ListLinesResponse *lines;
  rpc_status st = tk_transport_lines(ctx, &lines);
  if (!rpc_ok(st)) return st;
  const Metro__Transport__V1__Line *line = NULL;
  for (size_t i = 0; i < lines->n_lines && !line; i++)
    if (req->route_id && strcmp(lines->lines[i]->route_id, req->route_id) == 0) line = lines->lines[i];
  if (!line) return not_found(ctx, "LINE_NOT_FOUND", "line", req->route_id);

  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  const char *params[2] = {line->route_id, int_param(ctx, req->base_price)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "INSERT INTO fares (route_id, base_price) VALUES ($1, $2::int) "
               "ON CONFLICT (route_id) DO UPDATE SET base_price = EXCLUDED.base_price, updated_at = now() "
               "RETURNING " US("updated_at"),
               2, params);
  if (rpc_ok(st)) st = tk_publish_catalog_changed(ctx, "fare", line->route_id);
  if (!rpc_ok(st = tk_finish_tx(ctx, st))) return st;
  tk_catalog_invalidate();
  *out = &fare_msg(ctx, line, req->base_price, cell_time(ctx, r, 0, 0))->base;
  return RPC_OK;
}

/* ---- passes ---- */

rpc_status tk_update_pass(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__UpdatePassRequest *req = (const void *)msg;
  tk_ticket_type type;
  if (!tk_ticket_type_parse(req->pass_type, &type) || !tk_is_pass(type))
    return not_found(ctx, "PASS_NOT_FOUND", "pass", req->pass_type);
  if (req->price && req->clear_price)
    return rpc_invalid(ctx->arena, "price", "INVALID_PRICE", "give either price or clearPrice, not both");
  if (req->price && (req->price->value < MIN_PASS_PRICE || req->price->value > MAX_PASS_PRICE ||
                     req->price->value % 1000 != 0))
    return rpc_invalid(ctx->arena, "price", "INVALID_PRICE",
                       "price must be a multiple of 1,000 VND between 1,000 and 100,000,000");
  if (!req->price && !req->clear_price && !req->is_active)
    return rpc_invalid(ctx->arena, "price", "FIELD_REQUIRED", "give price, clearPrice or isActive");

  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  const char *params[4] = {tk_ticket_type_name(type), bool_param(req->price || req->clear_price),
                           req->price ? int_param(ctx, req->price->value) : NULL,
                           req->is_active ? bool_param(req->is_active->value) : NULL};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "UPDATE passes SET price = CASE WHEN $2::boolean THEN $3::int ELSE price END, "
               "is_active = COALESCE($4::boolean, is_active), updated_at = now() "
               "WHERE pass_type = $1 RETURNING " PASS_COLUMNS,
               4, params);
  if (rpc_ok(st) && PQntuples(r) != 1) st = not_found(ctx, "PASS_NOT_FOUND", "pass", req->pass_type);
  if (rpc_ok(st)) st = tk_publish_catalog_changed(ctx, "pass", tk_ticket_type_name(type));
  if (!rpc_ok(st = tk_finish_tx(ctx, st))) return st;
  tk_catalog_invalidate();
  tk_pass_row p = pass_of_row(r, 0);
  *out = &pass_msg(ctx, type, &p, cell_time(ctx, r, 0, 4))->base;
  return RPC_OK;
}

/* ---- passenger discounts ---- */

/* What `value` may be for each discount type. */
static const struct value_rule {
  int64_t min, max, step;
  const char *text;
} discount_values[] = {
    [TK_DISCOUNT_PERCENTAGE] = {0, 100, 1, "a percentage between 0 and 100"},
    [TK_DISCOUNT_FIXED_AMOUNT] = {0, 10000000, 1000, "a multiple of 1,000 VND between 0 and 10,000,000"},
    [TK_DISCOUNT_FREE] = {0, 0, 1, "0 for a free discount"},
};

typedef rpc_status (*discount_check)(rpc_ctx *ctx, const char *field, const Metro__Ticket__V1__PassengerDiscount *d);

static rpc_status check_passenger_type(rpc_ctx *ctx, const char *field, const Metro__Ticket__V1__PassengerDiscount *d) {
  if (!tk_pax_parse(d->passenger_type, NULL))
    return rpc_invalid(ctx->arena, field, "INVALID_PASSENGER_TYPE",
                       "%s must be adult, child, teenager, student, senior or elder", field);
  return RPC_OK;
}

static rpc_status check_discount_type(rpc_ctx *ctx, const char *field, const Metro__Ticket__V1__PassengerDiscount *d) {
  if (!tk_discount_kind_parse(d->discount_type, NULL))
    return rpc_invalid(ctx->arena, field, "INVALID_DISCOUNT_TYPE", "%s must be percentage, fixed_amount or free",
                       field);
  return RPC_OK;
}

static rpc_status check_discount_value(rpc_ctx *ctx, const char *field, const Metro__Ticket__V1__PassengerDiscount *d) {
  tk_discount_kind k;
  if (!tk_discount_kind_parse(d->discount_type, &k)) return RPC_OK; /* reported by discountType */
  const struct value_rule *v = &discount_values[k];
  if (d->value < v->min || d->value > v->max || d->value % v->step != 0)
    return rpc_invalid(ctx->arena, field, "INVALID_DISCOUNT_VALUE", "%s must be %s", field, v->text);
  return RPC_OK;
}

static rpc_status check_valid_from(rpc_ctx *ctx, const char *field, const Metro__Ticket__V1__PassengerDiscount *d) {
  if (!time_in_range(d->valid_from))
    return rpc_invalid(ctx->arena, field, "INVALID_TIMESTAMP", "%s is out of range", field);
  return RPC_OK;
}

static rpc_status check_valid_until(rpc_ctx *ctx, const char *field, const Metro__Ticket__V1__PassengerDiscount *d) {
  if (!time_in_range(d->valid_until))
    return rpc_invalid(ctx->arena, field, "INVALID_TIMESTAMP", "%s is out of range", field);
  if (d->valid_from && d->valid_until && pb_timestamp_us(d->valid_from) >= pb_timestamp_us(d->valid_until))
    return rpc_invalid(ctx->arena, field, "INVALID_VALIDITY_PERIOD", "%s must be after validFrom", field);
  return RPC_OK;
}

static rpc_status check_description(rpc_ctx *ctx, const char *field, const Metro__Ticket__V1__PassengerDiscount *d) {
  long n = text_utf8_length(d->description ? d->description : "");
  if (n < 0 || n > MAX_DESCRIPTION_CHARS || text_has_control(d->description ? d->description : ""))
    return rpc_invalid(ctx->arena, field, "INVALID_DESCRIPTION", "%s must be at most %d characters of text", field,
                       MAX_DESCRIPTION_CHARS);
  return RPC_OK;
}

/* A whole rule is valid when every field passes, in this order. */
static const struct discount_rule {
  const char *field;
  discount_check check;
} discount_rules[] = {
    {"passengerType", check_passenger_type}, {"discountType", check_discount_type},
    {"value", check_discount_value},         {"validFrom", check_valid_from},
    {"validUntil", check_valid_until},       {"description", check_description},
};

static rpc_status validate_discount(rpc_ctx *ctx, const Metro__Ticket__V1__PassengerDiscount *d) {
  for (size_t i = 0; i < sizeof discount_rules / sizeof discount_rules[0]; i++) {
    rpc_status st = discount_rules[i].check(ctx, discount_rules[i].field, d);
    if (!rpc_ok(st)) return st;
  }
  return RPC_OK;
}

/* Writes the whole rule (the six types exist from the seed; the insert covers a missing row),
 * publishes catalog.changed and answers the stored row. Inside the caller's transaction. */
static rpc_status save_discount(rpc_ctx *ctx, const Metro__Ticket__V1__PassengerDiscount *d,
                                Metro__Ticket__V1__PassengerDiscount **out) {
  const char *params[7] = {d->passenger_type,
                           d->discount_type,
                           int_param(ctx, d->value),
                           bool_param(d->is_active),
                           time_param(ctx, d->valid_from),
                           time_param(ctx, d->valid_until),
                           d->description ? d->description : ""};
  PGresult *r;
  rpc_status st = pg_exec(
      ctx->arena, &r,
      "INSERT INTO passenger_discounts (passenger_type, discount_type, value, is_active, valid_from, valid_until, "
      "description) VALUES ($1, $2, $3::int, $4::boolean, " TS("$5") ", " TS("$6") ", $7) "
      "ON CONFLICT (passenger_type) DO UPDATE SET discount_type = EXCLUDED.discount_type, value = EXCLUDED.value, "
      "is_active = EXCLUDED.is_active, valid_from = EXCLUDED.valid_from, valid_until = EXCLUDED.valid_until, "
      "description = EXCLUDED.description, updated_at = now() RETURNING " DISCOUNT_COLUMNS,
      7, params);
  if (rpc_ok(st)) st = tk_publish_catalog_changed(ctx, "discount", d->passenger_type);
  if (rpc_ok(st)) *out = discount_msg(ctx, r, 0);
  return st;
}

/* POST replaces the whole rule. proto3 cannot tell an absent isActive from false, so a rule
 * set this way is always active; UpdatePassengerDiscount with updateMask=isActive turns it off. */
rpc_status tk_create_passenger_discount(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__CreatePassengerDiscountRequest *req = (const void *)msg;
  if (!req->discount) return rpc_invalid(ctx->arena, "discount", "FIELD_REQUIRED", "discount is required");
  Metro__Ticket__V1__PassengerDiscount d = *req->discount;
  d.is_active = true;
  rpc_status st = validate_discount(ctx, &d);
  if (!rpc_ok(st) || !rpc_ok(st = pg_begin(ctx->arena))) return st;
  Metro__Ticket__V1__PassengerDiscount *saved = NULL;
  st = tk_finish_tx(ctx, save_discount(ctx, &d, &saved));
  if (rpc_ok(st)) {
    tk_catalog_invalidate();
    *out = &saved->base;
  }
  return st;
}

enum { D_KIND = 1, D_VALUE = 2, D_ACTIVE = 4, D_FROM = 8, D_UNTIL = 16, D_DESCRIPTION = 32 };
static const fm_path discount_paths[] = {{"discount_type", D_KIND}, {"value", D_VALUE},
                                         {"is_active", D_ACTIVE},   {"valid_from", D_FROM},
                                         {"valid_until", D_UNTIL},  {"description", D_DESCRIPTION},
                                         {NULL, 0}};

/* Without a mask, the non-empty fields of the patch. */
static unsigned discount_given(const Metro__Ticket__V1__PassengerDiscount *in) {
  return (in->discount_type && *in->discount_type ? D_KIND : 0) | (in->value ? D_VALUE : 0) |
         (in->is_active ? D_ACTIVE : 0) | (in->valid_from ? D_FROM : 0) | (in->valid_until ? D_UNTIL : 0) |
         (in->description && *in->description ? D_DESCRIPTION : 0);
}

rpc_status tk_update_passenger_discount(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__UpdatePassengerDiscountRequest *req = (const void *)msg;
  tk_pax pax;
  if (!tk_pax_parse(req->passenger_type, &pax))
    return rpc_invalid(ctx->arena, "passengerType", "INVALID_PASSENGER_TYPE",
                       "passengerType must be adult, child, teenager, student, senior or elder");
  Metro__Ticket__V1__PassengerDiscount empty = METRO__TICKET__V1__PASSENGER_DISCOUNT__INIT;
  const Metro__Ticket__V1__PassengerDiscount *in = req->discount ? req->discount : &empty;
  if (in->passenger_type && *in->passenger_type && strcmp(in->passenger_type, req->passenger_type) != 0)
    return rpc_invalid(ctx->arena, "passengerType", "IMMUTABLE_FIELD", "passengerType does not match the path");
  unsigned bits;
  rpc_status st = fm_mask_bits(ctx->arena, req->update_mask, discount_paths, false, "UNKNOWN_FIELD", &bits);
  if (!rpc_ok(st)) return st;
  if (!req->update_mask || req->update_mask->n_paths == 0) bits = discount_given(in);

  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  const char *params[1] = {tk_pax_name(pax)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "SELECT " DISCOUNT_COLUMNS " FROM passenger_discounts WHERE passenger_type = $1 FOR UPDATE", 1, params);
  Metro__Ticket__V1__PassengerDiscount d = METRO__TICKET__V1__PASSENGER_DISCOUNT__INIT, *saved = NULL;
  if (rpc_ok(st)) d = PQntuples(r) == 1 ? *discount_msg(ctx, r, 0) : *default_discount_msg(ctx, pax);
  if (bits & D_KIND) {
    d.discount_type = in->discount_type;
    tk_discount_kind k;
    if (!(bits & D_VALUE) && tk_discount_kind_parse(d.discount_type, &k) && k == TK_DISCOUNT_FREE)
      d.value = 0; /* switching to free drops the old value */
  }
  if (bits & D_VALUE) d.value = in->value;
  if (bits & D_ACTIVE) d.is_active = in->is_active;
  if (bits & D_FROM) d.valid_from = in->valid_from;
  if (bits & D_UNTIL) d.valid_until = in->valid_until;
  if (bits & D_DESCRIPTION) d.description = in->description;
  if (rpc_ok(st)) st = validate_discount(ctx, &d);
  if (rpc_ok(st)) st = save_discount(ctx, &d, &saved);
  if (rpc_ok(st = tk_finish_tx(ctx, st))) {
    tk_catalog_invalidate();
    *out = &saved->base;
  }
  return st;
}
