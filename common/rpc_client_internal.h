/* Client pieces the transcoder's asynchronous calls share with rpc_client.c:
 * metadata building, deadlines and turning a call's outcome into an rpc_status. */
#ifndef METRO_RPC_CLIENT_INTERNAL_H
#define METRO_RPC_CLIENT_INTERNAL_H

#include <grpc/grpc.h>

#include "common/rpc_client.h"

#define RPC_META_MAX 6

grpc_channel *rpc_channel_raw(rpc_channel *ch);
/* Fills md (RPC_META_MAX entries) from meta; release with rpc_meta_release. */
size_t rpc_meta_build(const rpc_call_meta *meta, grpc_metadata *md);
void rpc_meta_release(grpc_metadata *md, size_t n);
gpr_timespec rpc_deadline(int timeout_ms, int64_t deadline_ms);
rpc_status rpc_status_from_call(arena *a, grpc_status_code code, grpc_slice details,
                                const grpc_metadata_array *trailers);

#endif
