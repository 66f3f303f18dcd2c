/* gRPC client on the C core: one cached channel per target, unary calls with
 * deadlines, and propagation of request id, traceparent and caller identity. */
#ifndef METRO_RPC_CLIENT_H
#define METRO_RPC_CLIENT_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "common/rpc_server.h"
#include "common/status.h"

typedef struct rpc_channel rpc_channel;

/* The process-wide channel for "host:port", created on first use (thread-safe). */
rpc_channel *rpc_channel_get(const char *target);
/* The same for a caller that retries failed calls itself (the gateway, for idempotent methods):
 * a channel without gRPC's retry layer, whose transparent retry of calls the server never saw
 * such a caller's own retry of UNAVAILABLE covers. */
rpc_channel *rpc_channel_get_own_retries(const char *target);

/* Metadata sent with a call; any field may be NULL. */
typedef struct rpc_call_meta {
  const char *request_id;
  const char *traceparent;
  const char *identity_raw;
  const char *identity_sig;
  /* The client address the gateway vouches for (client_ip_sign): sent as x-metro-client-ip
   * and x-metro-client-ip-sig. Services trust nothing else (never x-forwarded-for). */
  const char *client_ip_value;
  const char *client_ip_sig;
  const char *idempotency_key; /* the gateway's Idempotency-Key; rpc_meta_from_ctx leaves it NULL */
} rpc_call_meta;

/* The metadata a handler forwards to the services it calls: request id, traceparent, and the
 * signed identity and client address the call carried (when they verified). */
rpc_call_meta rpc_meta_from_ctx(const rpc_ctx *ctx);

/* Service-to-service calls the caller's own identity cannot make (a public provider callback
 * handing work to another service): the metadata of ctx with a short-lived identity
 * "service:<service>" holding the role "service", signed with the secret given to
 * rpc_client_set_identity_secret. Without a secret the identity is left out. */
void rpc_client_set_identity_secret(const char *secret);
rpc_call_meta rpc_meta_as_service(const rpc_ctx *ctx, const char *service);
/* The identity "service:<service>" with the role "service" alone, for calls a process makes on
 * its own behalf (no incoming call to carry on): the gateway's key lookups and reports. */
rpc_call_meta rpc_meta_service(arena *a, const char *service);
/* The same identity with roles beyond "service" (the scheduler calls admin-only job methods
 * as "service:scheduler" holding {"service", "admin"}); at most RPC_MAX_ROLES in all. */
rpc_call_meta rpc_meta_as_service_roles(const rpc_ctx *ctx, const char *service, const char *const *extra_roles,
                                        int n_extra);

/* Calls `method` ("/pkg.Service/Method") and waits. The response is unpacked into the
 * arena. The deadline is now + timeout_ms, capped by `deadline_ms` (absolute realtime
 * ms, INT64_MAX for none). Errors from the peer keep their code, message and reason. */
rpc_status rpc_call_unary(rpc_channel *ch, arena *a, const char *method, const rpc_call_meta *meta,
                          const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                          ProtobufCMessage **response, int timeout_ms, int64_t deadline_ms);

/* Shuts every channel down (at exit; optional). */
void rpc_client_shutdown(void);

#endif
