/* What the server core (rpc_server.c) shares with its built-in services (health and
 * reflection in rpc_builtin.c): the method registry and the call-level batch helpers. */
#ifndef METRO_RPC_SERVER_INTERNAL_H
#define METRO_RPC_SERVER_INTERNAL_H

#include <grpc/grpc.h>

#include "common/descset.h"
#include "common/rpc_server.h"

typedef enum {
  RPC_KIND_UNARY,          /* a service handler from a table */
  RPC_KIND_HEALTH_CHECK,   /* grpc.health.v1.Health/Check */
  RPC_KIND_REFLECTION,     /* grpc.reflection.v1 and v1alpha ServerReflectionInfo (bidi) */
} rpc_method_kind;

#define RPC_BUILTIN_METHODS 3

typedef struct rpc_registered_method {
  const char *path;
  void *handle;
  rpc_method_kind kind;
  const ProtobufCMessageDescriptor *input, *output;
  rpc_handler_fn handler;
  int timeout_ms;
  bool access_public;
  const char *const *roles;
  int n_roles;
} rpc_registered_method;

bool rpc_server_add_builtin(rpc_server *s, const char *path, rpc_method_kind kind,
                            const ProtobufCMessageDescriptor *in, const ProtobufCMessageDescriptor *out, char *err,
                            size_t errlen);
const descset *rpc_server_descset(const rpc_server *s);
int rpc_server_service_names(const rpc_server *s, const char **names, int max);
/* 1 serving, 0 not serving, -1 unknown service. */
int rpc_server_health(rpc_server *s, const char *service);
size_t rpc_server_max_message(const rpc_server *s);

/* Registers health and reflection (rpc_builtin.c). */
bool rpc_builtin_register(rpc_server *s, char *err, size_t errlen);
/* Serves one call of a built-in streaming or health method to completion. */
rpc_status rpc_builtin_serve(rpc_server *s, const rpc_registered_method *m, grpc_call *call,
                             grpc_completion_queue *cq, rpc_ctx *ctx);

/* Call-level helpers shared by the core and the built-ins. */
bool rpc_call_run_batch(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, size_t n);
bool rpc_byte_buffer_read(arena *a, grpc_byte_buffer *bb, size_t max, uint8_t **data, size_t *len);
grpc_byte_buffer *rpc_pack_message(const ProtobufCMessage *msg);
bool rpc_call_finish(arena *a, grpc_call *call, grpc_completion_queue *cq, rpc_status st,
                     const ProtobufCMessage *response, bool send_initial_metadata);

#endif
