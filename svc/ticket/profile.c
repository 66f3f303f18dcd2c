/* Who is buying: the caller's passenger profile from the user service and, when purchases
 * need a verified email, the account's verification from auth (both over gRPC). */
#include <string.h>

#include "metro/auth/v1/auth.pb-c.h"
#include "metro/user/v1/user.pb-c.h"
#include "svc/ticket/ticket.h"

static rpc_status email_verified(rpc_ctx *ctx) {
  Metro__Auth__V1__GetCurrentUserRequest req = METRO__AUTH__V1__GET_CURRENT_USER_REQUEST__INIT;
  ProtobufCMessage *m;
  rpc_status st = tk_call(ctx, tk_cfg(ctx)->auth_addr, "/metro.auth.v1.AuthService/GetCurrentUser", &req.base,
                          &metro__auth__v1__user__descriptor, &m);
  if (!rpc_ok(st)) return st;
  if (!((const Metro__Auth__V1__User *)m)->is_verified)
    return rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "EMAIL_NOT_VERIFIED",
                     "verify your email address before buying tickets");
  return RPC_OK;
}

rpc_status tk_caller_passenger(rpc_ctx *ctx, bool require_verified, tk_passenger *out) {
  if (!ctx->caller.user_id) return rpc_error(ctx->arena, GRPC_STATUS_UNAUTHENTICATED, "UNAUTHENTICATED", "sign in");
  if (require_verified) {
    rpc_status st = email_verified(ctx);
    if (!rpc_ok(st)) return st;
  }
  Metro__User__V1__GetPassengerByUserRequest req = METRO__USER__V1__GET_PASSENGER_BY_USER_REQUEST__INIT;
  req.user_id = (char *)ctx->caller.user_id;
  ProtobufCMessage *m;
  rpc_status st = tk_call(ctx, tk_cfg(ctx)->user_addr, "/metro.user.v1.UserService/GetPassengerByUser", &req.base,
                          &metro__user__v1__passenger__descriptor, &m);
  if (!rpc_ok(st)) return st;
  const Metro__User__V1__Passenger *p = (const void *)m;
  if (!tk_is_uuid(p->passenger_id)) return rpc_internal("ticket: the user service sent a passenger without an id");
  if (!p->is_active)
    return rpc_error(ctx->arena, GRPC_STATUS_PERMISSION_DENIED, "PASSENGER_INACTIVE", "this passenger profile is inactive");
  out->passenger_id = p->passenger_id;
  out->user_id = ctx->caller.user_id;
  out->date_of_birth = p->date_of_birth ? p->date_of_birth : "";
  out->student_verified_until = p->student_verified_until ? p->student_verified_until : "";
  return RPC_OK;
}
