/* The payment side of the saga (domain spec §12.2, §13): payment.completed activates,
 * payment.failed / payment.cancelled cancel, payment.refunded closes a cancelled ticket, and
 * ticket.payment_ready records the payment id. Each runs in the consumer's transaction with
 * the ticket row locked; a late event for a ticket that moved on changes nothing. */
#include <string.h>

#include "common/log.h"
#include "common/pg.h"
#include "metro/events/v1/payment_events.pb-c.h"
#include "svc/ticket/ticket.h"

/* The ticket an event names, locked; NULL (and OK) when it does not exist. */
static rpc_status locked_ticket(rpc_ctx *ctx, const ev_event *ev, const char *ticket_id, tk_row **row) {
  if (!tk_is_uuid(ticket_id))
    return rpc_invalid(ctx->arena, "ticketId", "INVALID_EVENT", "%s names no ticket", ev->envelope->type);
  rpc_status st = tk_ticket_get(ctx, ticket_id, true, row);
  if (rpc_ok(st) && !*row) log_warn("ticket: %s for unknown ticket %s ignored", ev->envelope->type, ticket_id);
  return st;
}

/* Applies the trigger when the ticket is still where the event expects it; otherwise the
 * event is late (or a duplicate from another path) and is only logged. */
static rpc_status apply(rpc_ctx *ctx, const ev_event *ev, tk_row *row, tk_status expected, const tk_move *m) {
  if (row->status != expected) {
    log_info("ticket: late %s for ticket %s (%s) changes nothing", ev->envelope->type, row->ticket->ticket_id,
             tk_status_name(row->status));
    return RPC_OK;
  }
  tk_row *moved;
  return tk_ticket_move(ctx, row, m, &moved);
}

static rpc_status on_payment_completed(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__PaymentOutcome *p = (const void *)ev->data;
  tk_row *row;
  rpc_status st = locked_ticket(ctx, ev, p->ticket_id, &row);
  if (!rpc_ok(st) || !row) return st;
  if (row->status == TK_PENDING_PAYMENT && p->amount != row->ticket->total_price)
    return rpc_invalid(ctx->arena, "amount", "AMOUNT_MISMATCH", "payment %s paid %d VND for a ticket of %d VND",
                       p->payment_id, p->amount, row->ticket->total_price);
  tk_move m = {.trigger = TK_ON_PAYMENT_COMPLETED, .payment_id = p->payment_id};
  return apply(ctx, ev, row, TK_PENDING_PAYMENT, &m);
}

static rpc_status on_payment_failed(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__PaymentOutcome *p = (const void *)ev->data;
  tk_row *row;
  rpc_status st = locked_ticket(ctx, ev, p->ticket_id, &row);
  if (!rpc_ok(st) || !row) return st;
  bool cancelled = strcmp(ev->envelope->type, "payment.cancelled") == 0;
  tk_move m = {.trigger = TK_ON_PAYMENT_FAILED,
               .reason = cancelled ? "payment_cancelled" : "payment_failed",
               .payment_id = p->payment_id};
  return apply(ctx, ev, row, TK_PENDING_PAYMENT, &m);
}

static rpc_status on_payment_refunded(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__PaymentRefunded *p = (const void *)ev->data;
  tk_row *row;
  rpc_status st = locked_ticket(ctx, ev, p->ticket_id, &row);
  if (!rpc_ok(st) || !row) return st;
  tk_move m = {.trigger = TK_ON_REFUNDED, .payment_id = p->payment_id};
  return apply(ctx, ev, row, TK_CANCELLED, &m);
}

static rpc_status on_payment_ready(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketPaymentReady *p = (const void *)ev->data;
  if (!tk_is_uuid(p->ticket_id) || !p->payment_id || !*p->payment_id || strlen(p->payment_id) > 64)
    return rpc_invalid(ctx->arena, "ticketId", "INVALID_EVENT", "ticket.payment_ready names no ticket or payment");
  const char *params[] = {p->ticket_id, p->payment_id};
  return pg_exec(ctx->arena, NULL,
                 "UPDATE tickets SET payment_id = $2, updated_at = now() WHERE ticket_id = $1::uuid "
                 "AND payment_id IS NULL",
                 2, params);
}

const ev_subscription tk_subscriptions[] = {
    {"payment.completed", &metro__events__v1__payment_outcome__descriptor, on_payment_completed},
    {"payment.failed", &metro__events__v1__payment_outcome__descriptor, on_payment_failed},
    {"payment.cancelled", &metro__events__v1__payment_outcome__descriptor, on_payment_failed},
    {"payment.refunded", &metro__events__v1__payment_refunded__descriptor, on_payment_refunded},
    {"ticket.payment_ready", &metro__events__v1__ticket_payment_ready__descriptor, on_payment_ready},
};
const size_t tk_n_subscriptions = sizeof tk_subscriptions / sizeof tk_subscriptions[0];
