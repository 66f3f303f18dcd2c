/* gRPC metrics named and labelled as go-grpc-middleware's, so stock dashboards and alerts
 * work: grpc_{server,client}_{started_total,handled_total,handling_seconds,msg_received_total,
 * msg_sent_total} with grpc_type, grpc_service, grpc_method (and grpc_code on handled). */
#ifndef METRO_RPC_METRICS_H
#define METRO_RPC_METRICS_H

#include <grpc/grpc.h>
#include <stdbool.h>

#include "common/metrics.h"

typedef enum { RPC_METRICS_SERVER, RPC_METRICS_CLIENT } rpc_metrics_side;

/* The grpc_type values. */
#define RPC_TYPE_UNARY "unary"
#define RPC_TYPE_BIDI_STREAM "bidi_stream"

/* One method's series on one side, resolved once and kept for the process's life. */
typedef struct rpc_method_metrics rpc_method_metrics;

/* grpc-go's codes.Code.String(): "OK", "InvalidArgument", ...; "Unknown" past the last code. */
const char *rpc_code_label(grpc_status_code code);

/* The series of `path` ("/metro.auth.v1.AuthService/Login"; anything else counts as service and
 * method "unknown") on one side, created at zero on first use. Thread-safe; never NULL. */
rpc_method_metrics *rpc_method_metrics_get(rpc_metrics_side side, const char *type, const char *path);

void rpc_metrics_started(rpc_method_metrics *m);
void rpc_metrics_msg_received(rpc_method_metrics *m);
void rpc_metrics_msg_sent(rpc_method_metrics *m);
/* The call ended with `code` after `seconds`: handled_total and handling_seconds. */
void rpc_metrics_handled(rpc_method_metrics *m, grpc_status_code code, double seconds);

/* A unary client call as a whole, for callers that learn its outcome in one place (the
 * gateway's asynchronous calls): started was counted when it began. */
void rpc_metrics_client_finished(const char *path, grpc_status_code code, double seconds, bool sent, bool received);

#endif
