/* Promotion redemption (domain spec §8): a code looked up and checked for a purchase, and
 * its reservation, redemption and release. The promotion row is locked (FOR UPDATE) in the
 * purchase transaction before it is checked, so concurrent purchases can never exceed either
 * limit; the counters on the row move together with the redemption rows. */
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "common/text.h"
#include "svc/ticket/ticket.h"

static rpc_status not_applicable(rpc_ctx *ctx, const char *reason, const char *why) {
  return rpc_invalid(ctx->arena, "promotionCode", reason, "%s", why);
}

static const char *const find_sql =
    "SELECT promotion_id, promotion_code, type, value, applicable_ticket_types, applicable_passenger_types, "
    "applicable_route_ids, is_active, (valid_from <= now() AND now() < valid_until), "
    "usage_limit IS NOT NULL AND reserved_count + redeemed_count >= usage_limit, "
    "user_usage_limit IS NOT NULL AND (SELECT count(*) FROM promotion_redemptions r WHERE r.promotion_id = "
    "p.promotion_id AND r.passenger_id = $2::uuid AND r.status IN ('reserved', 'redeemed')) >= user_usage_limit "
    "FROM promotions p WHERE upper(promotion_code) = upper($1) AND NOT deleted";
/* Taken before the checks, in its own statement: under READ COMMITTED a statement that waits
 * for the row lock re-reads the locked row but evaluates its subqueries on the snapshot from
 * before the wait, so a per-passenger count in the same statement would miss a concurrent
 * purchase by the same passenger that committed meanwhile. The checks that follow run on a
 * fresh snapshot taken after the lock is held. */
static const char *const lock_sql =
    "SELECT 1 FROM promotions WHERE upper(promotion_code) = upper($1) AND NOT deleted FOR UPDATE";

rpc_status tk_promo_find(rpc_ctx *ctx, const char *code, const char *passenger_id, bool lock, tk_promo_row *out) {
  size_t len = code ? strlen(code) : 0;
  if (len < 3 || len > 50 || !text_only_chars(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"))
    return not_applicable(ctx, "PROMOTION_NOT_FOUND", "no promotion has this code");
  const char *params[] = {code, passenger_id};
  PGresult *r;
  rpc_status st = lock ? pg_exec(ctx->arena, NULL, lock_sql, 1, params) : RPC_OK;
  if (rpc_ok(st)) st = pg_exec(ctx->arena, &r, find_sql, 2, params);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) return not_applicable(ctx, "PROMOTION_NOT_FOUND", "no promotion has this code");
  memset(out, 0, sizeof *out);
  out->promotion_id = arena_strdup(ctx->arena, PQgetvalue(r, 0, 0));
  out->code = arena_strdup(ctx->arena, PQgetvalue(r, 0, 1));
  tk_promo *p = &out->promo;
  if (!tk_promo_kind_parse(PQgetvalue(r, 0, 2), &p->kind)) return rpc_internal("ticket: unknown promotion type stored");
  p->value = atoll(PQgetvalue(r, 0, 3));
  const char **items;
  size_t n = tk_text_array(ctx, PQgetvalue(r, 0, 4), &items);
  p->any_ticket_type = n == 0;
  for (size_t i = 0; i < n; i++) {
    tk_ticket_type t;
    if (tk_ticket_type_parse(items[i], &t)) p->ticket_types[t] = true;
  }
  n = tk_text_array(ctx, PQgetvalue(r, 0, 5), &items);
  p->any_pax = n == 0;
  for (size_t i = 0; i < n; i++) {
    tk_pax t;
    if (tk_pax_parse(items[i], &t)) p->pax[t] = true;
  }
  p->n_route_ids = tk_text_array(ctx, PQgetvalue(r, 0, 6), &items);
  p->route_ids = items;
  if (strcmp(PQgetvalue(r, 0, 7), "t") != 0)
    return not_applicable(ctx, "PROMOTION_NOT_APPLICABLE", "this promotion is not active");
  if (strcmp(PQgetvalue(r, 0, 8), "t") != 0)
    return not_applicable(ctx, "PROMOTION_NOT_APPLICABLE", "this promotion is outside its validity window");
  if (strcmp(PQgetvalue(r, 0, 9), "t") == 0)
    return not_applicable(ctx, "PROMOTION_EXHAUSTED", "this promotion has reached its usage limit");
  if (strcmp(PQgetvalue(r, 0, 10), "t") == 0)
    return not_applicable(ctx, "PROMOTION_EXHAUSTED", "you have used this promotion as often as it allows");
  return RPC_OK;
}

rpc_status tk_promo_reserve(rpc_ctx *ctx, const tk_promo_row *p, const char *ticket_id, const char *passenger_id,
                            bool redeemed_at_once) {
  const char *params[] = {ticket_id, p->promotion_id, passenger_id, redeemed_at_once ? "redeemed" : "reserved"};
  rpc_status st = pg_exec(ctx->arena, NULL,
                          "WITH r AS (INSERT INTO promotion_redemptions (ticket_id, promotion_id, passenger_id, status) "
                          "VALUES ($1::uuid, $2::uuid, $3::uuid, $4) RETURNING promotion_id, status) "
                          "UPDATE promotions p SET reserved_count = reserved_count + (r.status = 'reserved')::int, "
                          "redeemed_count = redeemed_count + (r.status = 'redeemed')::int FROM r "
                          "WHERE p.promotion_id = r.promotion_id",
                          4, params);
  return st;
}

/* Moves the ticket's redemption from one of `from` to `to`, keeping the counters right. */
static rpc_status move_redemption(rpc_ctx *ctx, const char *ticket_id, const char *sql) {
  const char *params[] = {ticket_id};
  return pg_exec(ctx->arena, NULL, sql, 1, params);
}

rpc_status tk_promo_redeem(rpc_ctx *ctx, const char *ticket_id) {
  return move_redemption(ctx, ticket_id,
                         "WITH r AS (UPDATE promotion_redemptions SET status = 'redeemed', updated_at = now() "
                         "WHERE ticket_id = $1::uuid AND status = 'reserved' RETURNING promotion_id) "
                         "UPDATE promotions p SET reserved_count = reserved_count - 1, "
                         "redeemed_count = redeemed_count + 1 FROM r WHERE p.promotion_id = r.promotion_id");
}

rpc_status tk_promo_release(rpc_ctx *ctx, const char *ticket_id) {
  return move_redemption(ctx, ticket_id,
                         "WITH old AS (SELECT promotion_id, status FROM promotion_redemptions WHERE ticket_id = "
                         "$1::uuid AND status IN ('reserved', 'redeemed') FOR UPDATE), "
                         "r AS (UPDATE promotion_redemptions x SET status = 'released', updated_at = now() FROM old "
                         "WHERE x.ticket_id = $1::uuid RETURNING old.promotion_id, old.status) "
                         "UPDATE promotions p SET reserved_count = reserved_count - (r.status = 'reserved')::int, "
                         "redeemed_count = redeemed_count - (r.status = 'redeemed')::int FROM r "
                         "WHERE p.promotion_id = r.promotion_id");
}
