/* The reads behind the public cache's fares, quotes, passes and discounts: calls to
 * metro.ticket.v1.TicketService over gRPC with the caller's metadata and a short deadline. */
#include "common/rpc_client.h"
#include "svc/public/public.h"

#define SERVICE "/metro.ticket.v1.TicketService/"

rpc_status pub_ticket_call(rpc_ctx *ctx, const char *method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp, int timeout_ms) {
  const pub_settings *s = &((const pub_state *)ctx->state)->settings;
  rpc_channel *ch = rpc_channel_get(s->ticket_addr);
  if (!ch) return rpc_internal("public: no channel to ticket");
  rpc_call_meta meta = rpc_meta_from_ctx(ctx);
  return rpc_call_unary(ch, ctx->arena, arena_printf(ctx->arena, SERVICE "%s", method), &meta, req, resp_type, resp,
                        timeout_ms > 0 ? timeout_ms : (int)s->ticket_timeout_ms, ctx->deadline_ms);
}

rpc_status pub_fetch_fares(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  (void)arg;
  Metro__Ticket__V1__ListFaresRequest req = METRO__TICKET__V1__LIST_FARES_REQUEST__INIT;
  return pub_ticket_call(ctx, "ListFares", &req.base, &metro__ticket__v1__list_fares_response__descriptor, out, 0);
}

rpc_status pub_fetch_quote(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  return pub_ticket_call(ctx, "QuoteFare", arg, &metro__ticket__v1__quote__descriptor, out, 0);
}

rpc_status pub_fetch_passes(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  (void)arg;
  Metro__Ticket__V1__ListPassesRequest req = METRO__TICKET__V1__LIST_PASSES_REQUEST__INIT;
  return pub_ticket_call(ctx, "ListPasses", &req.base, &metro__ticket__v1__list_passes_response__descriptor, out, 0);
}

rpc_status pub_fetch_discounts(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out) {
  (void)arg;
  Metro__Ticket__V1__ListPassengerDiscountsRequest req = METRO__TICKET__V1__LIST_PASSENGER_DISCOUNTS_REQUEST__INIT;
  return pub_ticket_call(ctx, "ListPassengerDiscounts", &req.base,
                         &metro__ticket__v1__list_passenger_discounts_response__descriptor, out, 0);
}
