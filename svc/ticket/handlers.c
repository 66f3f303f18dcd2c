/* The ticket service's gRPC handlers and their table: public quotes, the rider's tickets
 * (get, list, cancel, activate) with strict ownership, the admin refund, and the rows that
 * route to the catalog, promotion, purchase and job modules. */
#include <string.h>

#include "common/pg.h"
#include "svc/ticket/ticket.h"

static rpc_status ticket_not_found(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "TICKET_NOT_FOUND", "no such ticket");
}

static bool is_staff(const rpc_ctx *ctx) { return rpc_caller_has_role(ctx, "staff"); }

static bool is_owner(const rpc_ctx *ctx, const tk_row *row) {
  return ctx->caller.user_id && strcmp(row->user_id, ctx->caller.user_id) == 0;
}

/* The ticket if the caller may see it: staff and admins see every ticket, a passenger only
 * their own (someone else's is NOT_FOUND, exactly like a ticket that does not exist). */
static rpc_status visible_ticket(rpc_ctx *ctx, const char *ticket_id, bool for_update, tk_row **out) {
  rpc_status st = tk_ticket_get(ctx, ticket_id, for_update, out);
  if (!rpc_ok(st)) return st;
  if (!*out || (!is_staff(ctx) && !is_owner(ctx, *out)))
    return ticket_not_found(ctx);
  return RPC_OK;
}

static rpc_status quote_fare(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__QuoteFareRequest *r = (const void *)msg;
  Metro__Ticket__V1__CreateTicketRequest req = METRO__TICKET__V1__CREATE_TICKET_REQUEST__INIT;
  req.origin_station_id = r->origin_station_id;
  req.destination_station_id = r->destination_station_id;
  req.trip_type = r->trip_type;
  req.passengers = r->passengers;
  if (!r->trip_type || !*r->trip_type) /* a public quote is for a journey, never a pass */
    return rpc_invalid(ctx->arena, "tripType", "FIELD_REQUIRED", "tripType (oneway or return) is required");
  Metro__Ticket__V1__Quote *q;
  rpc_status st = tk_quote(ctx, &req, TK_PAX_ADULT, NULL, &q);
  if (rpc_ok(st)) *out = &q->base;
  return st;
}

static rpc_status get_ticket(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__GetTicketRequest *r = (const void *)msg;
  tk_row *row;
  rpc_status st = visible_ticket(ctx, r->ticket_id, false, &row);
  if (rpc_ok(st)) *out = &row->ticket->base;
  return st;
}

static rpc_status list_tickets(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__ListTicketsRequest *r = (const void *)msg;
  if (!is_staff(ctx) && r->passenger_id && *r->passenger_id)
    return rpc_invalid(ctx->arena, "passengerId", "FIELD_NOT_ALLOWED", "only staff filter tickets by passenger");
  Metro__Ticket__V1__ListTicketsResponse *resp =
      RPC_NEW(ctx, Metro__Ticket__V1__ListTicketsResponse, metro__ticket__v1__list_tickets_response__init);
  rpc_status st = tk_ticket_list(ctx, r, is_staff(ctx) ? NULL : ctx->caller.user_id, resp);
  if (rpc_ok(st)) *out = &resp->base;
  return st;
}

/* What a request makes of the ticket, decided on the locked row. */
typedef rpc_status (*move_plan_fn)(rpc_ctx *ctx, const tk_row *row, const void *request, tk_move *m);

/* One locked transition on a ticket the caller may see: the row is read once, under its lock,
 * and the plan decides the move from what it holds. */
static rpc_status move_visible(rpc_ctx *ctx, const char *ticket_id, move_plan_fn plan, const void *request,
                               ProtobufCMessage **out) {
  rpc_status st = pg_begin(ctx->arena);
  if (!rpc_ok(st)) return st;
  tk_row *row, *moved = NULL;
  tk_move m;
  st = visible_ticket(ctx, ticket_id, true, &row);
  if (rpc_ok(st)) st = plan(ctx, row, request, &m);
  if (rpc_ok(st)) st = tk_ticket_move(ctx, row, &m, &moved);
  st = tk_finish_tx(ctx, st);
  if (rpc_ok(st)) *out = &moved->ticket->base;
  return st;
}

static rpc_status check_reason(rpc_ctx *ctx, const char *reason) {
  if (reason && strlen(reason) > 200) return rpc_invalid(ctx->arena, "reason", "INVALID_REASON", "reason is too long");
  return RPC_OK;
}

/* The owner cancels under §9.2; an admin cancelling someone else's ticket refunds the owner
 * percentage when it was paid (a chosen percentage goes through :refund). Staff only read. */
static rpc_status plan_cancel(rpc_ctx *ctx, const tk_row *row, const void *request, tk_move *m) {
  (void)request;
  bool owner = is_owner(ctx, row);
  if (!owner && !rpc_caller_has_role(ctx, "admin"))
    return rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "PERMISSION_DENIED", "only the owner or an admin cancels");
  *m = (tk_move){.trigger = owner ? TK_ON_OWNER_CANCEL : TK_ON_ADMIN_CANCEL,
                 .refund_percent = (int)tk_cfg(ctx)->owner_refund_percent,
                 .reason = owner ? "owner" : "admin"};
  return RPC_OK;
}

static rpc_status cancel_ticket(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__CancelTicketRequest *r = (const void *)msg;
  rpc_status st = check_reason(ctx, r->reason);
  if (!rpc_ok(st)) return st;
  return move_visible(ctx, r->ticket_id, plan_cancel, r, out);
}

/* Only the owner activates; to anyone else the ticket does not exist. */
static rpc_status plan_activate(rpc_ctx *ctx, const tk_row *row, const void *request, tk_move *m) {
  (void)request;
  if (!is_owner(ctx, row)) return ticket_not_found(ctx);
  *m = (tk_move){.trigger = TK_ON_ACTIVATE, .reason = "owner"};
  return RPC_OK;
}

static rpc_status activate_ticket(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__ActivateTicketRequest *r = (const void *)msg;
  return move_visible(ctx, r->ticket_id, plan_activate, r, out);
}

static rpc_status plan_refund(rpc_ctx *ctx, const tk_row *row, const void *request, tk_move *m) {
  (void)ctx;
  (void)row;
  const Metro__Ticket__V1__RefundTicketRequest *r = request;
  *m = (tk_move){.trigger = TK_ON_ADMIN_CANCEL, .refund_percent = r->percent, .reason = "admin"};
  return RPC_OK;
}

static rpc_status refund_ticket(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__RefundTicketRequest *r = (const void *)msg;
  if (r->percent < 0 || r->percent > 100)
    return rpc_invalid(ctx->arena, "percent", "INVALID_PERCENT", "percent must be 0-100");
  rpc_status st = check_reason(ctx, r->reason);
  if (!rpc_ok(st)) return st;
  return move_visible(ctx, r->ticket_id, plan_refund, r, out);
}

static const rpc_method_impl methods[] = {
    {"ListFares", tk_list_fares, 0},
    {"QuoteFare", quote_fare, 0},
    {"ListPasses", tk_list_passes, 0},
    {"ListPassengerDiscounts", tk_list_passenger_discounts, 0},
    {"QuoteTicket", tk_quote_ticket, 0},
    {"CreateTicket", tk_create_ticket, 0},
    {"ListTickets", list_tickets, 0},
    {"GetTicket", get_ticket, 0},
    {"CancelTicket", cancel_ticket, 0},
    {"ActivateTicket", activate_ticket, 0},
    {"RefundTicket", refund_ticket, 0},
    {"UpdateFare", tk_update_fare, 0},
    {"UpdatePass", tk_update_pass, 0},
    {"CreatePassengerDiscount", tk_create_passenger_discount, 0},
    {"UpdatePassengerDiscount", tk_update_passenger_discount, 0},
    {"CreatePromotion", tk_create_promotion, 0},
    {"ListPromotions", tk_list_promotions, 0},
    {"GetPromotion", tk_get_promotion, 0},
    {"UpdatePromotion", tk_update_promotion, 0},
    {"DeletePromotion", tk_delete_promotion, 0},
    {"GetGateKeys", tk_get_gate_keys, 0},
    {"GetTicketCode", tk_get_ticket_code, 0},
    {"Tap", tk_tap, 0},
    {"ClearAbuse", tk_clear_abuse, 0},
    {"AssistedExit", tk_assisted_exit, 0},
    {"CreateGate", tk_create_gate, 0},
    {"ListGates", tk_list_gates, 0},
    {"ListAffectedHolders", tk_list_affected_holders, 0},
    {"ExpireUnpaid", tk_expire_unpaid, 60000},
    {"ExpireEnded", tk_expire_ended, 60000},
    {"AutoActivatePasses", tk_auto_activate_passes, 60000},
    {"NotifyExpiringSoon", tk_notify_expiring_soon, 60000},
    {"ExpirePromotions", tk_expire_promotions, 60000},
};

const rpc_service_impl ticket_service_impl = {
    .descriptor = &metro__ticket__v1__ticket_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
