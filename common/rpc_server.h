/* The gRPC server every service runs, on the gRPC C core: a service hands over a table
 * of handlers keyed by its protobuf-c method descriptors; the runtime does the rest
 * (dispatch, access checks from the proto options, arena, deadlines, metadata, status,
 * health, reflection, metrics, logging and graceful shutdown). */
#ifndef METRO_RPC_SERVER_H
#define METRO_RPC_SERVER_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/status.h"

#define RPC_MAX_ROLES 8

/* Who is calling, as the gateway vouched for it (x-metro-identity, HMAC-signed). */
typedef struct rpc_identity {
  const char *user_id;                /* NULL when anonymous */
  const char *roles[RPC_MAX_ROLES];
  int n_roles;
} rpc_identity;

/* Per-call context. Everything in it lives in `arena` and dies with the call. */
typedef struct rpc_ctx {
  arena *arena;
  ProtobufCAllocator alloc;  /* arena-backed allocator for protobuf-c */
  const char *method;        /* "/metro.auth.v1.AuthService/Login" */
  const char *request_id;    /* x-request-id (generated when absent) */
  const char *traceparent;   /* W3C traceparent, or NULL */
  const char *client_ip;     /* the client's IP: the gateway's signed x-metro-client-ip when it
                              * verifies, else the direct caller's peer host ("127.0.0.1", "::1",
                              * "unix"); x-forwarded-for and unsigned metadata are ignored */
  const char *client_ip_value; /* the signed pair as received (verified), forwarded on outgoing */
  const char *client_ip_sig;   /* calls; NULL when the call carried none that verified */
  const char *identity_raw;  /* signed identity metadata, forwarded on outgoing calls */
  const char *identity_sig;
  const char *idempotency_key; /* "idempotency-key" metadata (the REST Idempotency-Key header) as
                                * sent, unchecked, or NULL; never forwarded to other services */
  rpc_identity caller;
  int64_t deadline_ms;       /* absolute, CLOCK_REALTIME milliseconds; INT64_MAX = none */
  void *state;               /* the service's state from rpc_server_config.state */
} rpc_ctx;

/* A unary handler: reads `request`, sets `*response` to a message it allocated from
 * ctx->arena (the runtime packs it), or returns an error status. */
typedef rpc_status (*rpc_handler_fn)(rpc_ctx *ctx, const ProtobufCMessage *request,
                                     ProtobufCMessage **response);

typedef struct rpc_method_impl {
  const char *name;         /* method name as in the proto, e.g. "Login" */
  rpc_handler_fn handler;
  int timeout_ms;           /* upper bound on the call's deadline; 0 = server default */
} rpc_method_impl;

typedef struct rpc_service_impl {
  const ProtobufCServiceDescriptor *descriptor;
  const rpc_method_impl *methods;
  size_t n_methods;
} rpc_service_impl;

typedef struct rpc_server_config {
  const char *service_name;         /* for logs and metrics, e.g. "auth" */
  const char *listen_addr;          /* "127.0.0.1:50051" */
  int workers;                      /* worker threads; 0 = 2 x cores */
  const rpc_service_impl *services;
  size_t n_services;
  const uint8_t *descriptor_set;    /* serialized FileDescriptorSet: reflection + access */
  size_t descriptor_set_len;
  const char *identity_secret;      /* key that verifies the gateway's identity metadata */
  int default_timeout_ms;           /* deadline applied when the client sets none */
  int drain_timeout_ms;             /* SIGTERM: time in-flight calls get to finish */
  size_t max_message_bytes;         /* largest request accepted; 0 = 4 MiB */
  void *state;                      /* handed to every handler as ctx->state */
  void (*on_worker_exit)(void);     /* frees a worker's thread-local resources (connections); may be NULL */
} rpc_server_config;

typedef struct rpc_server rpc_server;

/* Binds, registers every method, health and reflection, and starts the workers.
 * Returns NULL with a message in err when a method has no handler, the port is taken... */
rpc_server *rpc_server_start(const rpc_server_config *cfg, char *err, size_t errlen);
/* Blocks until SIGTERM or SIGINT (or rpc_server_stop), then stops accepting calls,
 * lets in-flight calls finish within drain_timeout_ms, cancels the rest, and returns.
 * Call rpc_block_signals() before creating any thread so the signal reaches it. */
void rpc_server_wait(rpc_server *s);
/* Asks a running server to stop as if it had received SIGTERM (thread-safe). */
void rpc_server_stop(rpc_server *s);
void rpc_server_destroy(rpc_server *s);
/* The port actually bound (useful with port 0). */
int rpc_server_port(const rpc_server *s);
/* Health status of one service name ("" = the whole server). */
void rpc_server_set_health(rpc_server *s, const char *service, bool serving);

/* Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread (and threads it creates). */
void rpc_block_signals(void);

/* A new request id (a UUID v4 in a's memory) for a call that arrived without one. */
char *rpc_new_request_id(arena *a);
/* Waits for SIGTERM or SIGINT (blocked beforehand) and returns its number, logged. */
int rpc_wait_for_signal(void);

/* Role checks on the caller; "admin" satisfies every role check. */
bool rpc_caller_has_role(const rpc_ctx *ctx, const char *role);

/* Allocates and initialises a message of the given type from the call's arena. */
#define RPC_NEW(ctx, type, init_fn)                                    \
  ({                                                                   \
    type *m_ = arena_alloc((ctx)->arena, sizeof(type));                \
    init_fn(m_);                                                       \
    m_;                                                                \
  })

#endif
