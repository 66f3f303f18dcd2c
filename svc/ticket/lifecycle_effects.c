/* A lifecycle step with its effects (domain spec §9.1): the state machine says whether the
 * trigger is allowed, the conditional UPDATE applies it, and in the same transaction the
 * promotion moves (redeem / release) and the event leaves through the outbox. */
#include <string.h>

#include "common/log.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/ticket/ticket.h"

rpc_status tk_publish_activated(rpc_ctx *ctx, const Metro__Ticket__V1__Ticket *t, const char *user_id,
                                const char *qr_token, const char *trigger) {
  Metro__Events__V1__TicketActivated ev = METRO__EVENTS__V1__TICKET_ACTIVATED__INIT;
  ev.ticket_id = t->ticket_id;
  ev.passenger_id = t->passenger_id;
  ev.user_id = (char *)user_id;
  ev.ticket_type = t->ticket_type;
  ev.origin_station_id = t->origin_station_id;
  ev.destination_station_id = t->destination_station_id;
  ev.total_passengers = t->total_passengers;
  ev.total_price = t->total_price;
  ev.valid_from = t->valid_from;
  ev.valid_until = t->valid_until;
  ev.qr_token = (char *)(qr_token ? qr_token : "");
  ev.trigger = (char *)trigger;
  return ev_publish(ctx->arena, "ticket.activated", t->ticket_id, &ev.base, ctx->traceparent);
}

static rpc_status publish_cancelled(rpc_ctx *ctx, const tk_row *row) {
  const Metro__Ticket__V1__Ticket *t = row->ticket;
  Metro__Events__V1__TicketCancelled ev = METRO__EVENTS__V1__TICKET_CANCELLED__INIT;
  ev.ticket_id = t->ticket_id;
  ev.payment_id = t->payment_id;
  ev.passenger_id = t->passenger_id;
  ev.reason = t->cancel_reason;
  ev.refund_amount = t->refund_amount;
  ev.refund_percent = t->refund_percent;
  ev.payment_method = t->payment_method;
  ev.user_id = (char *)row->user_id;
  ev.ticket_type = t->ticket_type;
  return ev_publish(ctx->arena, "ticket.cancelled", t->ticket_id, &ev.base, ctx->traceparent);
}

static rpc_status publish_expired(rpc_ctx *ctx, const tk_row *row, const char *reason) {
  const Metro__Ticket__V1__Ticket *t = row->ticket;
  Metro__Events__V1__TicketExpired ev = METRO__EVENTS__V1__TICKET_EXPIRED__INIT;
  ev.ticket_id = t->ticket_id;
  ev.payment_id = t->payment_id;
  ev.passenger_id = t->passenger_id;
  ev.reason = (char *)reason;
  return ev_publish(ctx->arena, "ticket.expired", t->ticket_id, &ev.base, ctx->traceparent);
}

/* The refund of a cancellation: nothing for an unpaid or free ticket, else the percentage
 * of the price, rounded half up to the dong. */
static void refund_of(const tk_row *row, int percent, tk_change *c) {
  bool paid = row->status != TK_PENDING_PAYMENT && strcmp(row->ticket->payment_method, "free") != 0;
  c->refund_percent = paid ? percent : 0;
  c->refund_amount = paid ? (int)(((int64_t)row->ticket->total_price * c->refund_percent + 50) / 100) : 0;
}

/* Validity once a ticket can be used: single/return from now for the configured days, a
 * pass from its activation for its own period. */
static void set_validity(rpc_ctx *ctx, const tk_row *row, int64_t from_us, tk_change *c) {
  int days = tk_is_pass(row->type) ? row->validity_days : (int)tk_cfg(ctx)->single_validity_days;
  c->valid_from_us = from_us;
  c->valid_until_us = from_us + days * TK_DAY_US;
}

rpc_status tk_ticket_move(rpc_ctx *ctx, const tk_row *row, const tk_move *m, tk_row **out) {
  tk_change c = {.refund_percent = -1, .refund_amount = -1, .cancel_reason = m->reason, .payment_id = m->payment_id};
  if (!tk_transition(row->status, m->trigger, row->type, row->tapped, &c.to)) {
    if (m->trigger == TK_ON_OWNER_CANCEL)
      return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "TICKET_NOT_CANCELLABLE",
                       "a %s %s ticket cannot be cancelled by its owner", tk_status_name(row->status),
                       tk_ticket_type_name(row->type));
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "INVALID_STATUS_TRANSITION",
                     "the ticket is %s; that is not possible now", tk_status_name(row->status));
  }
  int64_t now = tk_now_us();
  switch (m->trigger) {
    case TK_ON_PAYMENT_COMPLETED: {
      if (c.to == TK_ACTIVE) set_validity(ctx, row, now, &c);
      else c.auto_activate_us = pb_timestamp_us(row->ticket->create_time) + tk_cfg(ctx)->auto_activate_days * TK_DAY_US;
      rpc_status st = tk_qr_issue(ctx, row->ticket, now, &c.qr_token, &c.qr_kid); /* usable now: its QR */
      if (!rpc_ok(st)) return st;
      break;
    }
    case TK_ON_ACTIVATE: set_validity(ctx, row, m->at_us ? m->at_us : now, &c); break;
    case TK_ON_OWNER_CANCEL:
    case TK_ON_ADMIN_CANCEL: refund_of(row, m->refund_percent, &c); break;
    default: break;
  }
  bool applied;
  tk_row *moved;
  rpc_status st = tk_ticket_transition(ctx, row, &c, &applied, &moved);
  if (!rpc_ok(st)) return st;
  if (!applied)
    return rpc_error(ctx->arena, GRPC_STATUS_ABORTED, "CONCURRENT_UPDATE", "the ticket changed meanwhile; try again");
  switch (m->trigger) {
    case TK_ON_PAYMENT_COMPLETED:
      st = tk_promo_redeem(ctx, moved->ticket->ticket_id);
      if (rpc_ok(st) && moved->status == TK_ACTIVE)
        st = tk_publish_activated(ctx, moved->ticket, moved->user_id, moved->qr_token, "payment");
      break;
    case TK_ON_ACTIVATE:
      st = tk_publish_activated(ctx, moved->ticket, moved->user_id, moved->qr_token, m->reason ? m->reason : "owner");
      break;
    case TK_ON_PAYMENT_FAILED:
    case TK_ON_OWNER_CANCEL:
    case TK_ON_ADMIN_CANCEL:
      st = tk_promo_release(ctx, moved->ticket->ticket_id);
      if (rpc_ok(st)) st = publish_cancelled(ctx, moved);
      break;
    case TK_ON_DEADLINE:
      st = tk_promo_release(ctx, moved->ticket->ticket_id);
      if (rpc_ok(st)) st = publish_expired(ctx, moved, "payment_timeout");
      break;
    case TK_ON_VALIDITY_ENDED: st = publish_expired(ctx, moved, "validity_ended"); break;
    default: break;
  }
  if (rpc_ok(st)) {
    log_info("ticket %s: %s -> %s", moved->ticket->ticket_id, tk_status_name(row->status), tk_status_name(moved->status));
    *out = moved;
  }
  return st;
}
