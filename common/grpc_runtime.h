/* Start-up of the gRPC C core shared by servers, clients and the gateway: grpc_init plus the
 * process-wide settings of the libraries under it, made once before the first call. */
#ifndef METRO_GRPC_RUNTIME_H
#define METRO_GRPC_RUNTIME_H

/* grpc_init(), after turning off Abseil's mutex deadlock detection (see grpc_runtime.c).
 * Balanced by grpc_shutdown() like grpc_init itself. */
void grpc_runtime_init(void);

#endif
