/* The events the public service consumes (domain spec §13, §18): each makes some cached
 * kinds or scopes stale. Bumping a generation twice is harmless, so a redelivery changes
 * nothing that matters; processed_events (in the consumer's transaction) records it. */
#include "common/log.h"
#include "metro/events/v1/network_events.pb-c.h"
#include "metro/events/v1/schedule_events.pb-c.h"
#include "svc/public/public.h"

/* Redis down: the event is retried (and parked after the consumer's attempts); answers
 * cached meanwhile still age out after the TTL. */
static rpc_status invalidate(rpc_ctx *ctx, const ev_event *ev) {
  pub_invalidation inv[PUB_MAX_INVALIDATIONS];
  int n = pub_invalidations_for(ctx->arena, ev->envelope->type, ev->data, inv);
  for (int i = 0; i < n; i++)
    if (!pub_cache_invalidate(ctx->arena, inv[i].kind, inv[i].scope))
      return rpc_error(ctx->arena, GRPC_STATUS_UNAVAILABLE, "CACHE_UNAVAILABLE",
                       "cannot invalidate the public cache for %s", ev->envelope->type);
  log_info("public cache: %s applied (%d invalidations)", ev->envelope->type, n);
  return RPC_OK;
}

const ev_subscription pub_subscriptions[] = {
    {"catalog.changed", &metro__events__v1__catalog_changed__descriptor, invalidate},
    {"station.status_changed", &metro__events__v1__station_status_changed__descriptor, invalidate},
    {"station.deactivated", &metro__events__v1__station_deactivated__descriptor, invalidate},
    {"schedule.generated", &metro__events__v1__schedule_generated__descriptor, invalidate},
};
const size_t pub_n_subscriptions = sizeof pub_subscriptions / sizeof pub_subscriptions[0];
