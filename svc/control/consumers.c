/* Demand data (spec §16): every ticket.used exit counts its passengers once on each line of the
 * journey, per direction and local hour and date of entry. The lines come from the ticket (its
 * planned journey, possibly ridden backwards on a return) or, for passes and exits elsewhere,
 * from transport's planner. The slots are added in the consumer's transaction with the
 * processed_events row, so a redelivered tap counts nobody twice. */
#include <string.h>

#include "common/log.h"
#include "common/pb_time.h"
#include "metro/events/v1/ticket_events.pb-c.h"
#include "svc/control/control.h"

static bool retryable(grpc_status_code c) { return c == GRPC_STATUS_UNAVAILABLE || c == GRPC_STATUS_DEADLINE_EXCEEDED; }

static rpc_status on_ticket_used(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__TicketUsed *u = (const void *)ev->data;
  if (!u->direction || strcmp(u->direction, "exit") != 0 || !u->entry_station_id || !*u->entry_station_id ||
      !u->station_id || !*u->station_id)
    return RPC_OK; /* entries, and exits without a recorded entry, are no journey */
  if (strcmp(u->entry_station_id, u->station_id) == 0) return RPC_OK; /* left where they came in: no ride */
  int64_t at = u->entry_at ? pb_timestamp_us(u->entry_at) : pb_timestamp_us(u->tap_at);
  if (at == 0) return RPC_OK;
  long day;
  int hour;
  ct_local_day_hour(at, &day, &hour);
  int passengers = u->total_passengers > 0 ? u->total_passengers : 1;
  ct_network *net;
  rpc_status st = ct_network_get(ctx, false, &net);
  if (!rpc_ok(st)) return st;
  ct_leg legs[CT_MAX_LEGS];
  int n = ct_journey_legs(net, u->entry_station_id, u->station_id, u->route_ids, u->n_route_ids, legs, CT_MAX_LEGS);
  if (n < 0) {
    /* A pass names no lines, and a rider may leave off the ticket's lines: ask the planner. */
    Metro__Transport__V1__JourneyPlan *plan;
    st = ct_plan_journey(ctx, u->entry_station_id, u->station_id, &plan);
    if (retryable(st.code)) return st;
    if (rpc_ok(st)) n = ct_plan_legs(net, plan, legs, CT_MAX_LEGS);
  }
  if (n < 0) {
    log_warn("ticket.used %s: no journey from %s to %s on the network; not counted", ev->envelope->event_id,
             u->entry_station_id, u->station_id);
    return RPC_OK;
  }
  for (int i = 0; i < n; i++)
    if (!rpc_ok(st = ct_demand_add(ctx, legs[i].line->route_id, day, legs[i].inbound, hour, passengers))) return st;
  return RPC_OK;
}

const ev_subscription ct_subscriptions[] = {
    {"ticket.used", &metro__events__v1__ticket_used__descriptor, on_ticket_used},
};
const size_t ct_n_subscriptions = sizeof ct_subscriptions / sizeof ct_subscriptions[0];
