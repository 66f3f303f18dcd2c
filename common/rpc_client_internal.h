/* Client pieces the transcoder's asynchronous calls share with rpc_client.c:
 * metadata building, deadlines and turning a call's outcome into an rpc_status. */
#ifndef METRO_RPC_CLIENT_INTERNAL_H
#define METRO_RPC_CLIENT_INTERNAL_H

#include <grpc/grpc.h>

#include "common/rpc_client.h"

#define RPC_META_MAX 7

grpc_channel *rpc_channel_raw(rpc_channel *ch);
/* Fills md (RPC_META_MAX entries) from meta; release with rpc_meta_release. */
size_t rpc_meta_build(const rpc_call_meta *meta, grpc_metadata *md);
void rpc_meta_release(grpc_metadata *md, size_t n);
gpr_timespec rpc_deadline(int timeout_ms, int64_t deadline_ms);
rpc_status rpc_status_from_call(arena *a, grpc_status_code code, grpc_slice details,
                                const grpc_metadata_array *trailers);

/* Where a unary call's outcome lands; the arrays must be initialised, details empty. */
typedef struct rpc_unary_io {
  grpc_metadata *md;
  size_t n_md;
  grpc_byte_buffer *send;
  grpc_byte_buffer **recv;
  grpc_metadata_array *initial, *trailers;
  grpc_status_code *code;
  grpc_slice *details;
} rpc_unary_io;

/* The six operations of a unary call (send metadata, message and close; receive metadata,
 * message and status) into ops[6], for one grpc_call_start_batch. */
void rpc_unary_ops(grpc_op ops[6], const rpc_unary_io *io);

#endif
