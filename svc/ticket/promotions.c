/* Promotion administration (domain spec §8): the field rules as one table, create with a given or
 * generated code, keyset listing, AIP-134 updates, delete-or-retire; every write publishes catalog.changed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/crypto.h"
#include "common/field_mask.h"
#include "common/pg.h"
#include "common/text.h"
#include "svc/ticket/ticket.h"

#define US SQL_US
/* A µs-since-epoch parameter as a timestamptz (NULL stays NULL); exact to the microsecond. */
#define TS(param) "(timestamptz 'epoch' + " param "::bigint * interval '1 microsecond')"

/* Lists are stored as text[] and travel as one comma-joined text parameter: every element
 * is a known name or a slug, none of which can hold a comma. */
#define PROMO_COLUMNS                                                                                       \
  "promotion_id, promotion_code, name, description, type, value, "                                          \
  "array_to_string(applicable_ticket_types, ','), array_to_string(applicable_passenger_types, ','), "       \
  "array_to_string(applicable_route_ids, ','), usage_limit, user_usage_limit, " US("valid_from") ", "       \
  US("valid_until") ", is_active, redeemed_count, reserved_count, " US("created_at") ", " US("updated_at")
#define PROMO_VALUES                                                                                   \
  "$2, $3, $4, $5, $6::int, string_to_array($7, ','), string_to_array($8, ','), string_to_array($9, ','), " \
  "$10::int, $11::int, " TS("$12") ", " TS("$13") ", $14::boolean"

#define DEFAULT_PAGE_SIZE 20
#define MAX_PAGE_SIZE 100
#define GENERATED_CODE_LEN 15
#define CODE_ATTEMPTS 10
#define MAX_ROUTE_ID_LEN 100

typedef Metro__Ticket__V1__Promotion promotion;

static bool has(const char *s) { return s && *s; }

static rpc_status promotion_not_found(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "PROMOTION_NOT_FOUND", "no such promotion");
}

static rpc_status code_taken(rpc_ctx *ctx, const char *code) {
  rpc_status st =
      rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "PROMOTION_CODE_TAKEN", "promotion code %s is taken", code);
  st.field = "promotionCode";
  return st;
}

/* ---- field rules ---- */

typedef rpc_status (*promo_check)(rpc_ctx *ctx, const char *field, const promotion *p);

/* What `value` may be for each promotion type. */
static const struct value_rule {
  int64_t min, max, step;
  const char *text;
} promo_values[] = {
    [TK_PROMO_PERCENTAGE] = {1, 100, 1, "a percentage between 1 and 100"},
    [TK_PROMO_FIXED_AMOUNT] = {1000, 10000000, 1000, "a multiple of 1,000 VND between 1,000 and 10,000,000"},
    [TK_PROMO_BUY_ONE_GET_ONE] = {0, 0, 1, "0 for buy_one_get_one"},
    [TK_PROMO_FREE_UPGRADE] = {0, 0, 1, "0 for free_upgrade"},
};

static rpc_status check_text(rpc_ctx *ctx, const char *field, const char *reason, const char *v, long min, long max) {
  long n = text_utf8_length(v ? v : "");
  if (n < min || n > max || text_has_control(v ? v : ""))
    return rpc_invalid(ctx->arena, field, reason, "%s must be %ld-%ld characters of text", field, min, max);
  return RPC_OK;
}

static rpc_status check_code(rpc_ctx *ctx, const char *field, const promotion *p) {
  size_t n = strlen(p->promotion_code);
  if (n < 3 || n > 50 || !text_only_chars(p->promotion_code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"))
    return rpc_invalid(ctx->arena, field, "INVALID_PROMOTION_CODE", "%s must be 3-50 characters of A-Z, 0-9, _ and -",
                       field);
  return RPC_OK;
}

static rpc_status check_name(rpc_ctx *ctx, const char *field, const promotion *p) {
  return check_text(ctx, field, "INVALID_NAME", p->name, 1, 100);
}

static rpc_status check_description(rpc_ctx *ctx, const char *field, const promotion *p) {
  return check_text(ctx, field, "INVALID_DESCRIPTION", p->description, 0, 500);
}

static rpc_status check_type(rpc_ctx *ctx, const char *field, const promotion *p) {
  if (!tk_promo_kind_parse(p->type, NULL))
    return rpc_invalid(ctx->arena, field, "INVALID_PROMOTION_TYPE",
                       "%s must be percentage, fixed_amount, buy_one_get_one or free_upgrade", field);
  return RPC_OK;
}

static rpc_status check_value(rpc_ctx *ctx, const char *field, const promotion *p) {
  tk_promo_kind k;
  if (!tk_promo_kind_parse(p->type, &k)) return RPC_OK; /* reported by type */
  const struct value_rule *v = &promo_values[k];
  if (p->value < v->min || p->value > v->max || p->value % v->step != 0)
    return rpc_invalid(ctx->arena, field, "INVALID_PROMOTION_VALUE", "%s must be %s", field, v->text);
  return RPC_OK;
}

/* A list of names: at most max, each known, none twice. */
static rpc_status check_names(rpc_ctx *ctx, const char *field, const char *reason, char *const *items, size_t n,
                              size_t max, bool (*known)(const char *)) {
  if (n > max) return rpc_invalid(ctx->arena, field, reason, "%s holds at most %zu entries", field, max);
  for (size_t i = 0; i < n; i++) {
    if (!known(items[i])) return rpc_invalid(ctx->arena, field, reason, "%s[%zu] is not a known name", field, i);
    for (size_t j = 0; j < i; j++)
      if (strcmp(items[i], items[j]) == 0)
        return rpc_invalid(ctx->arena, field, reason, "%s lists \"%s\" twice", field, items[i]);
  }
  return RPC_OK;
}

static bool ticket_type_known(const char *s) { return tk_ticket_type_parse(s, NULL); }
static bool pax_known(const char *s) { return tk_pax_parse(s, NULL); }
static bool route_id_shaped(const char *s) {
  size_t n = strlen(s);
  return n >= 1 && n <= MAX_ROUTE_ID_LEN && text_only_chars(s, "abcdefghijklmnopqrstuvwxyz0123456789-");
}

static rpc_status check_ticket_types(rpc_ctx *ctx, const char *field, const promotion *p) {
  rpc_status st = check_names(ctx, field, "INVALID_TICKET_TYPE", p->applicable_ticket_types,
                              p->n_applicable_ticket_types, TK_N_TICKET_TYPES, ticket_type_known);
  tk_promo_kind k;
  if (rpc_ok(st) && tk_promo_kind_parse(p->type, &k) && k == TK_PROMO_FREE_UPGRADE)
    for (size_t i = 0; i < p->n_applicable_ticket_types; i++) {
      tk_ticket_type t;
      if (tk_ticket_type_parse(p->applicable_ticket_types[i], &t) && !tk_is_pass(t))
        return rpc_invalid(ctx->arena, field, "INVALID_TICKET_TYPE", "free_upgrade applies to passes only, not %s",
                           tk_ticket_type_name(t));
    }
  return st;
}

static rpc_status check_pax_types(rpc_ctx *ctx, const char *field, const promotion *p) {
  return check_names(ctx, field, "INVALID_PASSENGER_TYPE", p->applicable_passenger_types,
                     p->n_applicable_passenger_types, TK_N_PAX, pax_known);
}

/* The shape of the route list; whether transport knows each line is route_ids_known(). */
static rpc_status check_route_ids(rpc_ctx *ctx, const char *field, const promotion *p) {
  if (p->n_applicable_route_ids > TK_MAX_SEGMENTS)
    return rpc_invalid(ctx->arena, field, "INVALID_ROUTE_ID", "%s holds at most %d lines", field, TK_MAX_SEGMENTS);
  for (size_t i = 0; i < p->n_applicable_route_ids; i++)
    if (!route_id_shaped(p->applicable_route_ids[i]))
      return rpc_invalid(ctx->arena, field, "LINE_NOT_FOUND", "%s[%zu] is not a line", field, i);
  return check_names(ctx, field, "INVALID_ROUTE_ID", p->applicable_route_ids, p->n_applicable_route_ids,
                     TK_MAX_SEGMENTS, route_id_shaped);
}

static rpc_status check_limit(rpc_ctx *ctx, const char *field, const Google__Protobuf__Int32Value *v) {
  if (v && v->value < 1)
    return rpc_invalid(ctx->arena, field, "INVALID_USAGE_LIMIT", "%s must be at least 1, or null for no limit", field);
  return RPC_OK;
}

static rpc_status check_usage_limit(rpc_ctx *ctx, const char *field, const promotion *p) {
  return check_limit(ctx, field, p->usage_limit);
}

static rpc_status check_user_usage_limit(rpc_ctx *ctx, const char *field, const promotion *p) {
  return check_limit(ctx, field, p->user_usage_limit);
}

/* Required, and inside 0001-01-01..9999-12-31 (what JSON carries and µs arithmetic survives). */
static rpc_status check_instant(rpc_ctx *ctx, const char *field, const Google__Protobuf__Timestamp *ts) {
  if (!ts) return rpc_invalid(ctx->arena, field, "FIELD_REQUIRED", "%s is required", field);
  if (ts->seconds < -62135596800LL || ts->seconds > 253402300799LL || ts->nanos < 0 || ts->nanos > 999999999)
    return rpc_invalid(ctx->arena, field, "INVALID_TIMESTAMP", "%s is out of range", field);
  return RPC_OK;
}

static rpc_status check_valid_from(rpc_ctx *ctx, const char *field, const promotion *p) {
  return check_instant(ctx, field, p->valid_from);
}

static rpc_status check_valid_until(rpc_ctx *ctx, const char *field, const promotion *p) {
  rpc_status st = check_instant(ctx, field, p->valid_until);
  if (rpc_ok(st) && p->valid_from && pb_timestamp_us(p->valid_from) >= pb_timestamp_us(p->valid_until))
    return rpc_invalid(ctx->arena, field, "INVALID_VALIDITY_PERIOD", "%s must be after validFrom", field);
  return st;
}

enum {
  F_CODE = 1u << 0,
  F_NAME = 1u << 1,
  F_DESCRIPTION = 1u << 2,
  F_TYPE = 1u << 3,
  F_VALUE = 1u << 4,
  F_TICKET_TYPES = 1u << 5,
  F_PAX_TYPES = 1u << 6,
  F_ROUTES = 1u << 7,
  F_USAGE_LIMIT = 1u << 8,
  F_USER_USAGE_LIMIT = 1u << 9,
  F_VALID_FROM = 1u << 10,
  F_VALID_UNTIL = 1u << 11,
  F_ACTIVE = 1u << 12,
};

/* The update_mask paths of a promotion with their bits (0 = output only). */
static const fm_path promo_paths[] = {
    {"promotion_id", 0},
    {"promotion_code", F_CODE},
    {"name", F_NAME},
    {"description", F_DESCRIPTION},
    {"type", F_TYPE},
    {"value", F_VALUE},
    {"applicable_ticket_types", F_TICKET_TYPES},
    {"applicable_passenger_types", F_PAX_TYPES},
    {"applicable_route_ids", F_ROUTES},
    {"usage_limit", F_USAGE_LIMIT},
    {"user_usage_limit", F_USER_USAGE_LIMIT},
    {"valid_from", F_VALID_FROM},
    {"valid_until", F_VALID_UNTIL},
    {"is_active", F_ACTIVE},
    {"usage_count", 0},
    {"reserved_count", 0},
    {"create_time", 0},
    {"update_time", 0},
    {NULL, 0},
};

/* The rules of a promotion's fields, by the name errors report, checked in this order on
 * the whole promotion. */
static const struct promo_field {
  const char *field;
  promo_check check;
} promo_fields[] = {
    {"promotionCode", check_code},
    {"name", check_name},
    {"description", check_description},
    {"type", check_type},
    {"value", check_value},
    {"applicableTicketTypes", check_ticket_types},
    {"applicablePassengerTypes", check_pax_types},
    {"applicableRouteIds", check_route_ids},
    {"usageLimit", check_usage_limit},
    {"userUsageLimit", check_user_usage_limit},
    {"validFrom", check_valid_from},
    {"validUntil", check_valid_until},
};
#define N_PROMO_FIELDS (sizeof promo_fields / sizeof promo_fields[0])

static rpc_status validate(rpc_ctx *ctx, const promotion *p) {
  for (size_t i = 0; i < N_PROMO_FIELDS; i++) {
    rpc_status st = promo_fields[i].check(ctx, promo_fields[i].field, p);
    if (!rpc_ok(st)) return st;
  }
  return RPC_OK;
}

/* Codes are stored upper-case (unique ignoring case). */
static void normalise(rpc_ctx *ctx, promotion *p) {
  char *code = arena_strdup(ctx->arena, p->promotion_code ? p->promotion_code : "");
  for (char *c = code; *c; c++)
    if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  p->promotion_code = code;
}

/* Each listed line must be one transport knows (asked only when lines are listed). */
static rpc_status route_ids_known(rpc_ctx *ctx, char *const *ids, size_t n) {
  if (n == 0) return RPC_OK;
  Metro__Transport__V1__ListLinesResponse *lines;
  rpc_status st = tk_transport_lines(ctx, &lines);
  if (!rpc_ok(st)) return st;
  for (size_t i = 0; i < n; i++) {
    bool found = false;
    for (size_t k = 0; k < lines->n_lines && !found; k++) found = strcmp(lines->lines[k]->route_id, ids[i]) == 0;
    if (!found)
      return rpc_invalid(ctx->arena, "applicableRouteIds", "LINE_NOT_FOUND", "applicableRouteIds: no line \"%s\"",
                         ids[i]);
  }
  return RPC_OK;
}

/* Without a mask, the non-empty fields of the patch. */
static unsigned given_bits(const promotion *in) {
  return (has(in->promotion_code) ? F_CODE : 0) | (has(in->name) ? F_NAME : 0) |
         (has(in->description) ? F_DESCRIPTION : 0) | (has(in->type) ? F_TYPE : 0) | (in->value ? F_VALUE : 0) |
         (in->n_applicable_ticket_types ? F_TICKET_TYPES : 0) | (in->n_applicable_passenger_types ? F_PAX_TYPES : 0) |
         (in->n_applicable_route_ids ? F_ROUTES : 0) | (in->usage_limit ? F_USAGE_LIMIT : 0) |
         (in->user_usage_limit ? F_USER_USAGE_LIMIT : 0) | (in->valid_from ? F_VALID_FROM : 0) |
         (in->valid_until ? F_VALID_UNTIL : 0) | (in->is_active ? F_ACTIVE : 0);
}

static void merge(promotion *p, const promotion *in, unsigned bits) {
  if (bits & F_CODE) p->promotion_code = in->promotion_code;
  if (bits & F_NAME) p->name = in->name;
  if (bits & F_DESCRIPTION) p->description = in->description;
  if (bits & F_TYPE) {
    p->type = in->type;
    tk_promo_kind k;
    if (!(bits & F_VALUE) && tk_promo_kind_parse(p->type, &k) && promo_values[k].max == 0)
      p->value = 0; /* a type without a value drops the old one */
  }
  if (bits & F_VALUE) p->value = in->value;
  if (bits & F_TICKET_TYPES) {
    p->applicable_ticket_types = in->applicable_ticket_types;
    p->n_applicable_ticket_types = in->n_applicable_ticket_types;
  }
  if (bits & F_PAX_TYPES) {
    p->applicable_passenger_types = in->applicable_passenger_types;
    p->n_applicable_passenger_types = in->n_applicable_passenger_types;
  }
  if (bits & F_ROUTES) {
    p->applicable_route_ids = in->applicable_route_ids;
    p->n_applicable_route_ids = in->n_applicable_route_ids;
  }
  if (bits & F_USAGE_LIMIT) p->usage_limit = in->usage_limit;
  if (bits & F_USER_USAGE_LIMIT) p->user_usage_limit = in->user_usage_limit;
  if (bits & F_VALID_FROM) p->valid_from = in->valid_from;
  if (bits & F_VALID_UNTIL) p->valid_until = in->valid_until;
  if (bits & F_ACTIVE) p->is_active = in->is_active;
}

/* ---- rows ---- */

static const char *cell(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return arena_strdup(ctx->arena, v ? v : "");
}

static int64_t cell_i64(const PGresult *r, int row, int col) {
  const char *v = pg_value(r, row, col);
  return v ? strtoll(v, NULL, 10) : 0;
}

static Google__Protobuf__Int32Value *cell_int32_value(rpc_ctx *ctx, const PGresult *r, int row, int col) {
  if (!pg_value(r, row, col)) return NULL;
  Google__Protobuf__Int32Value *v = RPC_NEW(ctx, Google__Protobuf__Int32Value, google__protobuf__int32_value__init);
  v->value = (int32_t)cell_i64(r, row, col);
  return v;
}

/* "a,b,c" -> {"a", "b", "c"}; "" -> none. */
static char **split(rpc_ctx *ctx, const char *joined, size_t *n) {
  *n = 0;
  if (!*joined) return NULL;
  size_t cap = 1;
  for (const char *c = joined; *c; c++) cap += *c == ',';
  char **items = arena_alloc(ctx->arena, sizeof(char *) * cap);
  char *copy = arena_strdup(ctx->arena, joined), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) items[(*n)++] = tok;
  return items;
}

static const char *join(rpc_ctx *ctx, char *const *items, size_t n) {
  size_t len = 1;
  for (size_t i = 0; i < n; i++) len += strlen(items[i]) + 1;
  char *out = arena_alloc(ctx->arena, len), *o = out;
  for (size_t i = 0; i < n; i++) {
    if (i) *o++ = ',';
    size_t k = strlen(items[i]);
    memcpy(o, items[i], k);
    o += k;
  }
  *o = '\0';
  return out;
}

static promotion *promo_of_row(rpc_ctx *ctx, const PGresult *r, int row) {
  promotion *p = RPC_NEW(ctx, promotion, metro__ticket__v1__promotion__init);
  p->promotion_id = (char *)cell(ctx, r, row, 0);
  p->promotion_code = (char *)cell(ctx, r, row, 1);
  p->name = (char *)cell(ctx, r, row, 2);
  p->description = (char *)cell(ctx, r, row, 3);
  p->type = (char *)cell(ctx, r, row, 4);
  p->value = (int32_t)cell_i64(r, row, 5);
  p->applicable_ticket_types = split(ctx, cell(ctx, r, row, 6), &p->n_applicable_ticket_types);
  p->applicable_passenger_types = split(ctx, cell(ctx, r, row, 7), &p->n_applicable_passenger_types);
  p->applicable_route_ids = split(ctx, cell(ctx, r, row, 8), &p->n_applicable_route_ids);
  p->usage_limit = cell_int32_value(ctx, r, row, 9);
  p->user_usage_limit = cell_int32_value(ctx, r, row, 10);
  p->valid_from = pb_timestamp(ctx, cell_i64(r, row, 11));
  p->valid_until = pb_timestamp(ctx, cell_i64(r, row, 12));
  p->is_active = strcmp(cell(ctx, r, row, 13), "t") == 0;
  p->usage_count = (int32_t)cell_i64(r, row, 14);
  p->reserved_count = (int32_t)cell_i64(r, row, 15);
  p->create_time = pb_timestamp(ctx, cell_i64(r, row, 16));
  p->update_time = pb_timestamp(ctx, cell_i64(r, row, 17));
  return p;
}

/* $1..$14 of PROMO_VALUES (with the id first). */
static void promo_params(rpc_ctx *ctx, const promotion *p, const char *params[14]) {
  const char *values[14] = {
      p->promotion_id,
      p->promotion_code,
      p->name,
      p->description ? p->description : "",
      p->type,
      arena_printf(ctx->arena, "%d", p->value),
      join(ctx, p->applicable_ticket_types, p->n_applicable_ticket_types),
      join(ctx, p->applicable_passenger_types, p->n_applicable_passenger_types),
      join(ctx, p->applicable_route_ids, p->n_applicable_route_ids),
      p->usage_limit ? arena_printf(ctx->arena, "%d", p->usage_limit->value) : NULL,
      p->user_usage_limit ? arena_printf(ctx->arena, "%d", p->user_usage_limit->value) : NULL,
      arena_printf(ctx->arena, "%lld", (long long)pb_timestamp_us(p->valid_from)),
      arena_printf(ctx->arena, "%lld", (long long)pb_timestamp_us(p->valid_until)),
      p->is_active ? "t" : "f",
  };
  memcpy(params, values, sizeof values);
}

/* ---- the promotions table ---- */

/* *out = NULL when there is no such (undeleted) promotion; a malformed id is simply unknown. */
static rpc_status promo_get(rpc_ctx *ctx, const char *id, bool for_update, promotion **out) {
  *out = NULL;
  if (!tk_is_uuid(id)) return RPC_OK;
  const char *params[1] = {id};
  PGresult *r;
  rpc_status st =
      for_update
          ? pg_exec(ctx->arena, &r,
                    "SELECT " PROMO_COLUMNS " FROM promotions WHERE promotion_id = $1::uuid AND NOT deleted FOR UPDATE",
                    1, params)
          : pg_exec(ctx->arena, &r,
                    "SELECT " PROMO_COLUMNS " FROM promotions WHERE promotion_id = $1::uuid AND NOT deleted", 1,
                    params);
  if (rpc_ok(st) && PQntuples(r) == 1) *out = promo_of_row(ctx, r, 0);
  return st;
}

/* *out = NULL when the code is taken (the insert does nothing on any unique conflict). */
static rpc_status promo_insert(rpc_ctx *ctx, const promotion *p, promotion **out) {
  const char *params[14];
  promo_params(ctx, p, params);
  PGresult *r;
  *out = NULL;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "INSERT INTO promotions (promotion_id, promotion_code, name, description, type, value, "
                          "applicable_ticket_types, applicable_passenger_types, applicable_route_ids, usage_limit, "
                          "user_usage_limit, valid_from, valid_until, is_active) "
                          "VALUES ($1::uuid, " PROMO_VALUES ") ON CONFLICT DO NOTHING RETURNING " PROMO_COLUMNS,
                          14, params);
  if (rpc_ok(st) && PQntuples(r) == 1) *out = promo_of_row(ctx, r, 0);
  return st;
}

static rpc_status promo_save(rpc_ctx *ctx, const promotion *p, promotion **out) {
  const char *params[14];
  promo_params(ctx, p, params);
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "UPDATE promotions SET (promotion_code, name, description, type, value, "
                          "applicable_ticket_types, applicable_passenger_types, applicable_route_ids, usage_limit, "
                          "user_usage_limit, valid_from, valid_until, is_active) = (" PROMO_VALUES "), "
                          "updated_at = now() WHERE promotion_id = $1::uuid AND NOT deleted RETURNING " PROMO_COLUMNS,
                          14, params);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS) return code_taken(ctx, p->promotion_code);
  if (rpc_ok(st) && PQntuples(r) != 1) return promotion_not_found(ctx);
  if (rpc_ok(st)) *out = promo_of_row(ctx, r, 0);
  return st;
}

/* ---- codes ---- */

/* GENERATED_CODE_LEN characters of [A-Z0-9], uniformly (bytes >= 252 are redrawn). */
static const char *generate_code(rpc_ctx *ctx) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  char *out = arena_alloc(ctx->arena, GENERATED_CODE_LEN + 1);
  size_t n = 0;
  while (n < GENERATED_CODE_LEN) {
    uint8_t buf[32];
    crypto_random_bytes(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf && n < GENERATED_CODE_LEN; i++)
      if (buf[i] < 252) out[n++] = alphabet[buf[i] % 36];
  }
  out[n] = '\0';
  return out;
}

/* ---- handlers ---- */

/* proto3 cannot tell an absent isActive from false, so a new promotion is always active;
 * UpdatePromotion with updateMask=isActive switches it off. */
rpc_status tk_create_promotion(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__CreatePromotionRequest *req = (const void *)msg;
  if (!req->promotion) return rpc_invalid(ctx->arena, "promotion", "FIELD_REQUIRED", "promotion is required");
  promotion p = *req->promotion;
  normalise(ctx, &p);
  bool generated = !*p.promotion_code;
  if (generated) p.promotion_code = (char *)generate_code(ctx);
  p.is_active = true;
  rpc_status st = validate(ctx, &p);
  if (rpc_ok(st)) st = route_ids_known(ctx, p.applicable_route_ids, p.n_applicable_route_ids);
  if (!rpc_ok(st) || !rpc_ok(st = pg_begin(ctx->arena))) return st;
  promotion *created = NULL;
  for (int attempt = 0; rpc_ok(st) && !created && attempt < (generated ? CODE_ATTEMPTS : 1); attempt++) {
    if (attempt > 0) p.promotion_code = (char *)generate_code(ctx);
    p.promotion_id = (char *)tk_uuid(ctx);
    st = promo_insert(ctx, &p, &created);
  }
  if (rpc_ok(st) && !created)
    st = generated ? rpc_error(ctx->arena, GRPC_STATUS_ABORTED, "PROMOTION_CODE_TAKEN",
                               "no free promotion code after %d attempts; retry", CODE_ATTEMPTS)
                   : code_taken(ctx, p.promotion_code);
  if (rpc_ok(st)) st = tk_publish_catalog_changed(ctx, "promotion", created->promotion_id);
  if (rpc_ok(st = tk_finish_tx(ctx, st))) *out = &created->base;
  return st;
}

/* Page tokens: base64url of "g1:<created µs>:<promotion id>", the last row shown. */
static const char *page_token(rpc_ctx *ctx, const promotion *last) {
  const char *plain =
      arena_printf(ctx->arena, "g1:%lld:%s", (long long)pb_timestamp_us(last->create_time), last->promotion_id);
  char *enc = b64_encode_alloc(B64_URL_NOPAD, plain, strlen(plain));
  if (!enc) return "";
  const char *token = arena_strdup(ctx->arena, enc);
  free(enc);
  return token;
}

static bool page_token_decode(rpc_ctx *ctx, const char *token, const char **after_us, const char **after_id) {
  char buf[128];
  size_t n;
  if (strlen(token) > 160 || !b64_decode(B64_URL_NOPAD, token, strlen(token), buf, sizeof buf - 1, &n)) return false;
  buf[n] = '\0';
  if (strncmp(buf, "g1:", 3) != 0) return false;
  char *digits = buf + 3, *colon = strchr(digits, ':');
  if (!colon || colon == digits || colon - digits > 18) return false;
  *colon = '\0';
  if (!text_only_chars(digits, "0123456789") || !tk_is_uuid(colon + 1)) return false;
  *after_us = arena_strdup(ctx->arena, digits);
  *after_id = arena_strdup(ctx->arena, colon + 1);
  return true;
}

rpc_status tk_list_promotions(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__ListPromotionsRequest *req = (const void *)msg;
  if (req->page_size < 0) return rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must be >= 0");
  int size = req->page_size == 0 ? DEFAULT_PAGE_SIZE : req->page_size > MAX_PAGE_SIZE ? MAX_PAGE_SIZE : req->page_size;
  const char *after_us = NULL, *after_id = NULL, *active = NULL;
  if (has(req->page_token) && !page_token_decode(ctx, req->page_token, &after_us, &after_id))
    return rpc_invalid(ctx->arena, "pageToken", "INVALID_PAGE_TOKEN", "pageToken is not one this server issued");
  if (has(req->filter_active)) {
    if (strcmp(req->filter_active, "true") == 0) active = "t";
    else if (strcmp(req->filter_active, "false") == 0) active = "f";
    else return rpc_invalid(ctx->arena, "filterActive", "INVALID_FILTER", "filterActive must be true or false");
  }
  const char *params[4] = {active, after_us, after_id, arena_printf(ctx->arena, "%d", size + 1)};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " PROMO_COLUMNS " FROM promotions WHERE NOT deleted "
                          "AND ($1::boolean IS NULL OR is_active = $1::boolean) "
                          "AND ($2::bigint IS NULL OR (created_at, promotion_id) < (" TS("$2") ", $3::uuid)) "
                          "ORDER BY created_at DESC, promotion_id DESC LIMIT $4::int",
                          4, params);
  if (!rpc_ok(st)) return st;
  Metro__Ticket__V1__ListPromotionsResponse *resp =
      RPC_NEW(ctx, Metro__Ticket__V1__ListPromotionsResponse, metro__ticket__v1__list_promotions_response__init);
  int n = PQntuples(r), shown = n > size ? size : n;
  resp->promotions = arena_alloc(ctx->arena, sizeof(void *) * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) resp->promotions[resp->n_promotions++] = promo_of_row(ctx, r, i);
  resp->next_page_token = n > size ? (char *)page_token(ctx, resp->promotions[shown - 1]) : "";
  *out = &resp->base;
  return RPC_OK;
}

rpc_status tk_get_promotion(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__GetPromotionRequest *req = (const void *)msg;
  promotion *p;
  rpc_status st = promo_get(ctx, req->promotion_id, false, &p);
  if (rpc_ok(st) && !p) st = promotion_not_found(ctx);
  if (rpc_ok(st)) *out = &p->base;
  return st;
}

/* AIP-134: the mask's fields (or, without one, the non-empty fields of the body) replace the
 * stored ones; the result must pass every rule. Listed lines are checked against transport
 * when the update sets them, before the transaction, so a retired line never blocks
 * switching a promotion off. */
rpc_status tk_update_promotion(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__UpdatePromotionRequest *req = (const void *)msg;
  if (!tk_is_uuid(req->promotion_id)) return promotion_not_found(ctx);
  promotion empty = METRO__TICKET__V1__PROMOTION__INIT;
  const promotion *in = req->promotion ? req->promotion : &empty;
  if (has(in->promotion_id) && strcmp(in->promotion_id, req->promotion_id) != 0)
    return rpc_invalid(ctx->arena, "promotionId", "IMMUTABLE_FIELD", "promotionId does not match the path");
  unsigned bits;
  rpc_status st = fm_mask_bits(ctx->arena, req->update_mask, promo_paths, false, "UNKNOWN_FIELD", &bits);
  if (!rpc_ok(st)) return st;
  if (!req->update_mask || req->update_mask->n_paths == 0) bits = given_bits(in);
  if (bits & F_ROUTES) {
    if (!rpc_ok(st = check_route_ids(ctx, "applicableRouteIds", in))) return st;
    if (!rpc_ok(st = route_ids_known(ctx, in->applicable_route_ids, in->n_applicable_route_ids))) return st;
  }

  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  promotion *current = NULL, *saved = NULL;
  st = promo_get(ctx, req->promotion_id, true, &current);
  if (rpc_ok(st) && !current) st = promotion_not_found(ctx);
  if (rpc_ok(st)) {
    merge(current, in, bits);
    normalise(ctx, current);
    st = validate(ctx, current);
  }
  if (rpc_ok(st)) st = promo_save(ctx, current, &saved);
  if (rpc_ok(st)) st = tk_publish_catalog_changed(ctx, "promotion", saved->promotion_id);
  if (rpc_ok(st = tk_finish_tx(ctx, st))) *out = &saved->base;
  return st;
}

/* With redemptions (any status) the promotion is retired: deleted and inactive, its history
 * kept and its code free again; without any the row goes. Under the row lock, so a purchase
 * reserving it concurrently is either seen or waits. */
rpc_status tk_delete_promotion(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__DeletePromotionRequest *req = (const void *)msg;
  if (!tk_is_uuid(req->promotion_id)) return promotion_not_found(ctx);
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  promotion *current = NULL;
  st = promo_get(ctx, req->promotion_id, true, &current);
  if (rpc_ok(st) && !current) st = promotion_not_found(ctx);
  const char *params[1] = {req->promotion_id};
  PGresult *r;
  if (rpc_ok(st))
    st = pg_exec(ctx->arena, &r,
                 "SELECT EXISTS (SELECT 1 FROM promotion_redemptions WHERE promotion_id = $1::uuid)", 1, params);
  if (rpc_ok(st)) {
    bool redeemed = strcmp(pg_value(r, 0, 0), "t") == 0;
    st = redeemed ? pg_exec(ctx->arena, &r,
                            "UPDATE promotions SET deleted = true, is_active = false, updated_at = now() "
                            "WHERE promotion_id = $1::uuid",
                            1, params)
                  : pg_exec(ctx->arena, &r, "DELETE FROM promotions WHERE promotion_id = $1::uuid", 1, params);
  }
  if (rpc_ok(st)) st = tk_publish_catalog_changed(ctx, "promotion", req->promotion_id);
  if (rpc_ok(st = tk_finish_tx(ctx, st)))
    *out = &RPC_NEW(ctx, Google__Protobuf__Empty, google__protobuf__empty__init)->base;
  return st;
}
