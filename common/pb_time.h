/* google.protobuf.Timestamp to and from microseconds since the epoch, and the SQL
 * expressions that carry timestamptz columns as µs integers (exact, no text parsing). */
#ifndef METRO_PB_TIME_H
#define METRO_PB_TIME_H

#include <stdint.h>

#include "common/rpc_server.h"
#include "google/protobuf/timestamp.pb-c.h"

/* A timestamptz column as bigint µs, and a bigint µs parameter as timestamptz. */
#define SQL_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
#define SQL_AT(param) "('epoch'::timestamptz + " param "::bigint * interval '1 microsecond')"

/* NULL for 0 (an unset time); in ctx's arena. */
Google__Protobuf__Timestamp *pb_timestamp(rpc_ctx *ctx, int64_t us);
/* 0 for NULL. */
int64_t pb_timestamp_us(const Google__Protobuf__Timestamp *ts);

#endif
