/* Conversions between google.protobuf.Timestamp and µs since the epoch, rounding toward
 * the past for times before 1970 so nanos stay within 0..999,999,999. */
#include "common/pb_time.h"

Google__Protobuf__Timestamp *pb_timestamp(rpc_ctx *ctx, int64_t us) {
  if (us == 0) return NULL;
  Google__Protobuf__Timestamp *t = RPC_NEW(ctx, Google__Protobuf__Timestamp, google__protobuf__timestamp__init);
  t->seconds = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  t->nanos = (int32_t)((us - t->seconds * 1000000) * 1000);
  return t;
}

int64_t pb_timestamp_us(const Google__Protobuf__Timestamp *ts) {
  if (!ts) return 0;
  return ts->seconds * 1000000 + ts->nanos / 1000;
}
