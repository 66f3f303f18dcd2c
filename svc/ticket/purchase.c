/* Purchases (domain spec §9, §12.2): who buys (profile, verified email), what it costs
 * (quotes.c, priced outside any lock), then one transaction that claims the Idempotency-Key,
 * locks and reserves the promotion, writes the ticket and its events. A total of 0 takes the
 * free path: the ticket is usable at once and the promotion redeemed. */
#include <string.h>

#include "common/pg.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/ticket/ticket.h"
#include "svc/ticket/ticket_metrics.h"

static const char *const payment_methods[] = {"vnpay", "paypal", "sepay"};

/* vnpay, paypal or sepay; only a free ticket may go without one. */
static rpc_status check_payment_method(rpc_ctx *ctx, const char *method, bool free_ticket) {
  if (!method || !*method) {
    if (free_ticket) return RPC_OK;
    return rpc_invalid(ctx->arena, "paymentMethod", "FIELD_REQUIRED", "paymentMethod (vnpay, paypal or sepay) is required");
  }
  for (size_t i = 0; i < sizeof payment_methods / sizeof payment_methods[0]; i++)
    if (strcmp(method, payment_methods[i]) == 0) return RPC_OK;
  return rpc_invalid(ctx->arena, "paymentMethod", "INVALID_PAYMENT_METHOD", "paymentMethod must be vnpay, paypal or sepay");
}

/* The holder's passenger type for a pass (from the profile, never the request). */
static rpc_status holder_type(rpc_ctx *ctx, const Metro__Ticket__V1__CreateTicketRequest *r, const tk_passenger *who,
                              tk_pax *out) {
  *out = TK_PAX_ADULT;
  tk_ticket_type pass;
  if (!r->pass_type || !*r->pass_type || !tk_ticket_type_parse(r->pass_type, &pass) || !tk_is_pass(pass))
    return RPC_OK; /* not a pass: tk_quote reports a bad passType */
  tk_catalog cat;
  rpc_status st = tk_catalog_load(ctx, &cat);
  if (rpc_ok(st)) st = tk_pass_holder_type(ctx, &cat, pass, who->date_of_birth, who->student_verified_until, out);
  return st;
}

/* Who, and at what price; the promotion is looked up (not locked) for its rules. */
static rpc_status price_for_caller(rpc_ctx *ctx, const Metro__Ticket__V1__CreateTicketRequest *r, tk_passenger *who,
                                   tk_promo_row **promo, Metro__Ticket__V1__Quote **quote) {
  rpc_status st = tk_caller_passenger(ctx, tk_cfg(ctx)->require_verified_email, who);
  tk_pax pax = TK_PAX_ADULT;
  if (rpc_ok(st)) st = holder_type(ctx, r, who, &pax);
  *promo = NULL;
  if (rpc_ok(st) && r->promotion_code && *r->promotion_code) {
    *promo = arena_alloc(ctx->arena, sizeof **promo);
    st = tk_promo_find(ctx, r->promotion_code, who->passenger_id, false, *promo);
  }
  if (rpc_ok(st)) st = tk_quote(ctx, r, pax, *promo, quote);
  if (rpc_ok(st) && r->payment_method && *r->payment_method)
    st = check_payment_method(ctx, r->payment_method, true);
  return st;
}

rpc_status tk_quote_ticket(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  tk_passenger who;
  tk_promo_row *promo;
  Metro__Ticket__V1__Quote *q;
  rpc_status st = price_for_caller(ctx, (const void *)msg, &who, &promo, &q);
  if (rpc_ok(st)) *out = &q->base;
  return st;
}

/* The ticket as it is written, from the quote. */
static Metro__Ticket__V1__Ticket *new_ticket(rpc_ctx *ctx, const Metro__Ticket__V1__CreateTicketRequest *r,
                                             const tk_passenger *who, const Metro__Ticket__V1__Quote *q,
                                             const tk_promo_row *promo, tk_ticket_type type, int64_t now) {
  Metro__Ticket__V1__Ticket *t = RPC_NEW(ctx, Metro__Ticket__V1__Ticket, metro__ticket__v1__ticket__init);
  const tk_settings *cfg = tk_cfg(ctx);
  bool free_ticket = q->total_price == 0, pass = tk_is_pass(type);
  t->ticket_id = (char *)tk_uuid(ctx);
  t->ticket_type = q->ticket_type;
  t->passenger_id = (char *)who->passenger_id;
  t->origin_station_id = q->origin_station_id;
  t->destination_station_id = q->destination_station_id;
  t->segments = q->segments;
  t->n_segments = q->n_segments;
  t->station_count = q->station_count;
  t->passengers = q->passengers;
  t->total_passengers = q->total_passengers;
  t->passenger_type = q->passenger_type;
  t->original_price = q->original_price;
  t->passenger_discount_amount = q->passenger_discount_amount;
  t->promotion_discount_amount = q->promotion_discount_amount;
  t->total_price = q->total_price;
  t->fare_breakdown = q->fare_breakdown;
  t->promotion_code = promo ? promo->code : "";
  t->payment_method = free_ticket ? "free" : r->payment_method;
  t->payment_id = "";
  t->journeys_allowed = type == TK_ONEWAY ? 1 : type == TK_RETURN ? 2 : 0;
  t->cancel_reason = "";
  t->create_time = pb_timestamp(ctx, now);
  t->update_time = t->create_time;
  if (!free_ticket) {
    t->status = "pending_payment";
    t->payment_deadline = pb_timestamp(ctx, now + cfg->payment_deadline_s * 1000000);
  } else if (pass) {
    t->status = "inactive";
    t->auto_activate_at = pb_timestamp(ctx, now + cfg->auto_activate_days * TK_DAY_US);
  } else {
    t->status = "active";
    t->valid_from = t->create_time;
    t->valid_until = pb_timestamp(ctx, now + cfg->single_validity_days * TK_DAY_US);
  }
  return t;
}

static rpc_status publish_created(rpc_ctx *ctx, const Metro__Ticket__V1__Ticket *t, const char *user_id) {
  Metro__Events__V1__TicketCreated ev = METRO__EVENTS__V1__TICKET_CREATED__INIT;
  ev.ticket_id = t->ticket_id;
  ev.passenger_id = t->passenger_id;
  ev.user_id = (char *)user_id;
  ev.ticket_type = t->ticket_type;
  ev.amount = t->total_price;
  ev.payment_method = t->payment_method;
  ev.payment_deadline = t->payment_deadline;
  ev.total_passengers = t->total_passengers;
  ev.promotion_code = t->promotion_code;
  ev.status = t->status;
  /* The lines and their segment prices, for revenue by line (passes have none). */
  const Metro__Ticket__V1__FareBreakdown *fb = t->fare_breakdown;
  if (fb && fb->n_segments) {
    ev.line_shares = arena_alloc(ctx->arena, fb->n_segments * sizeof *ev.line_shares);
    for (size_t i = 0; i < fb->n_segments; i++) {
      Metro__Events__V1__LineShare *l = RPC_NEW(ctx, Metro__Events__V1__LineShare, metro__events__v1__line_share__init);
      l->route_id = fb->segments[i]->route_id;
      l->segment_price = fb->segments[i]->price;
      ev.line_shares[ev.n_line_shares++] = l;
    }
  }
  return ev_publish(ctx->arena, "ticket.created", t->ticket_id, &ev.base, ctx->traceparent);
}

rpc_status tk_create_ticket(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__CreateTicketRequest *r = (const void *)msg;
  tk_idem idem;
  rpc_status st = tk_idem_prepare(ctx, ctx->idempotency_key, msg, &idem);
  if (!rpc_ok(st)) return st;
  Metro__Ticket__V1__Ticket *replay = NULL;
  if (!rpc_ok(st = tk_idem_lookup(ctx, ctx->caller.user_id, &idem, &replay))) return st;
  if (replay) {
    *out = &replay->base;
    return RPC_OK;
  }
  tk_passenger who;
  tk_promo_row *promo;
  Metro__Ticket__V1__Quote *q;
  if (!rpc_ok(st = price_for_caller(ctx, r, &who, &promo, &q))) return st;
  if (!rpc_ok(st = check_payment_method(ctx, r->payment_method, q->total_price == 0))) return st;
  tk_ticket_type type;
  tk_ticket_type_parse(q->ticket_type, &type);
  int64_t now = tk_now_us();
  Metro__Ticket__V1__Ticket *t = new_ticket(ctx, r, &who, q, promo, type, now);
  bool free_ticket = q->total_price == 0;
  /* A free ticket is usable at once, so it gets its QR now; a paid one on payment. */
  const char *qr_token = NULL, *qr_kid = NULL;
  if (free_ticket && !rpc_ok(st = tk_qr_issue(ctx, t, now, &qr_token, &qr_kid))) return st;

  if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
  st = tk_idem_claim(ctx, who.user_id, &idem, t, &replay);
  if (rpc_ok(st) && replay) {
    pg_rollback();
    *out = &replay->base;
    return RPC_OK;
  }
  /* Under the promotion's row lock: still active, in its window and under both limits. */
  tk_promo_row locked;
  if (rpc_ok(st) && promo) st = tk_promo_find(ctx, promo->code, who.passenger_id, true, &locked);
  if (rpc_ok(st))
    st = tk_ticket_insert(ctx, t, who.user_id, q, promo ? promo->promotion_id : NULL, tk_pass_validity_days(type),
                          tk_qr_new_secret(ctx), qr_token, qr_kid);
  if (rpc_ok(st) && promo) st = tk_promo_reserve(ctx, &locked, t->ticket_id, who.passenger_id, free_ticket);
  if (rpc_ok(st)) st = publish_created(ctx, t, who.user_id);
  if (rpc_ok(st) && free_ticket && !tk_is_pass(type)) /* active at once; a free pass waits inactive */
    st = tk_publish_activated(ctx, t, who.user_id, qr_token, "free");
  st = tk_finish_tx(ctx, st);
  if (rpc_ok(st)) {
    *out = &t->base;
    tk_metrics_ticket_sold(t->ticket_type, t->payment_method);
  }
  return st;
}
