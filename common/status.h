/* One way to say "it failed": a gRPC code, a message for humans and a machine reason
 * (the domain's EMAIL_TAKEN, TICKET_USED...), carried from the store to the wire. */
#ifndef METRO_STATUS_H
#define METRO_STATUS_H

#include <grpc/status.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"

/* The ErrorInfo domain of every Metro error. */
#define METRO_ERROR_DOMAIN "metro.hcmc.vn"

typedef struct rpc_status {
  grpc_status_code code;   /* GRPC_STATUS_OK on success */
  const char *message;     /* for humans; static or arena-owned */
  const char *reason;      /* ErrorInfo.reason, UPPER_SNAKE; NULL when none */
  const char *field;       /* the offending request field (ErrorInfo metadata "field"), or NULL */
  int64_t retry_after;     /* seconds (ErrorInfo metadata "retryAfter"), 0 when none */
} rpc_status;

#define RPC_OK ((rpc_status){.code = GRPC_STATUS_OK})

static inline bool rpc_ok(rpc_status s) { return s.code == GRPC_STATUS_OK; }

/* An error whose message is formatted into the arena. */
rpc_status rpc_error(arena *a, grpc_status_code code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* INVALID_ARGUMENT naming a field: reason defaults to "INVALID_ARGUMENT". */
rpc_status rpc_invalid(arena *a, const char *field, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* INTERNAL with a generic message; the detail goes to the log, never to the caller. */
rpc_status rpc_internal(const char *log_detail);

/* Serialises s as a google.rpc.Status with one google.rpc.ErrorInfo in details
 * (the grpc-status-details-bin trailer). Returns arena memory; *len gets its size. */
uint8_t *rpc_status_to_details(arena *a, rpc_status s, size_t *len);
/* Parses a grpc-status-details-bin value back; false when malformed. */
bool rpc_status_from_details(arena *a, const uint8_t *data, size_t len, rpc_status *out);

const char *rpc_code_name(grpc_status_code code); /* "NOT_FOUND" */
/* HTTP status for a gRPC code per google.rpc.Code's mapping, with the few domain
 * reasons the specification pins to other statuses (ACCOUNT_LOCKED -> 423). */
int rpc_http_status(grpc_status_code code, const char *reason);

#endif
