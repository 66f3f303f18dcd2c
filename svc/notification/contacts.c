/* Contact details come from the user service over gRPC (never from the event that caused a
 * message), asked as service "notification" since no end user is behind an event; station
 * names come from the transport service. */
#include <string.h>

#include "common/rpc_client.h"
#include "metro/transport/v1/transport.pb-c.h"
#include "svc/notification/service.h"

rpc_status nt_contact(rpc_ctx *ctx, const char *user_id, Metro__User__V1__Contact **out) {
  *out = NULL;
  Metro__User__V1__GetContactRequest req = METRO__USER__V1__GET_CONTACT_REQUEST__INIT;
  req.user_id = (char *)user_id;
  rpc_channel *ch = rpc_channel_get(nt_st(ctx)->settings.user_addr);
  if (!ch) return rpc_internal("notification: no channel to the user service");
  rpc_call_meta meta = rpc_meta_as_service(ctx, "notification");
  ProtobufCMessage *resp;
  rpc_status st = rpc_call_unary(ch, ctx->arena, "/metro.user.v1.UserService/GetContact", &meta, &req.base,
                                 &metro__user__v1__contact__descriptor, &resp,
                                 (int)nt_st(ctx)->settings.call_timeout_ms, INT64_MAX);
  if (st.code == GRPC_STATUS_NOT_FOUND) return RPC_OK;
  if (rpc_ok(st)) *out = (Metro__User__V1__Contact *)resp;
  return st;
}

/* A station's display name from the transport service (its id when transport cannot say). */
const char *nt_station_name(rpc_ctx *ctx, const char *station_id) {
  if (!station_id || !*station_id) return "";
  Metro__Transport__V1__GetStationRequest req = METRO__TRANSPORT__V1__GET_STATION_REQUEST__INIT;
  req.station_id = (char *)station_id;
  rpc_channel *ch = rpc_channel_get(nt_st(ctx)->settings.transport_addr);
  rpc_call_meta meta = rpc_meta_as_service(ctx, "notification");
  ProtobufCMessage *resp;
  if (ch && rpc_ok(rpc_call_unary(ch, ctx->arena, "/metro.transport.v1.TransportService/GetStation", &meta, &req.base,
                                  &metro__transport__v1__station__descriptor, &resp,
                                  (int)nt_st(ctx)->settings.call_timeout_ms, INT64_MAX)))
    return ((Metro__Transport__V1__Station *)resp)->name;
  return station_id;
}
