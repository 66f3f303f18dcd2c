/* The events of the network (domain spec §3, §13), written to the outbox through
 * ev_publish inside the transaction of the write that caused them. */
#include <string.h>

#include "common/events.h"
#include "common/pg.h"
#include "metro/events/v1/network_events.pb-c.h"
#include "svc/transport/transport.h"

rpc_status tr_emit_catalog_changed(rpc_ctx *ctx, const char *entity, const char *id) {
  Metro__Events__V1__CatalogChanged ev = METRO__EVENTS__V1__CATALOG_CHANGED__INIT;
  ev.entity = (char *)entity;
  ev.id = (char *)id;
  return ev_publish(ctx->arena, "catalog.changed", id && *id ? id : entity, &ev.base, ctx->traceparent);
}

/* station.status_changed on any change of isActive; station.deactivated too when it
 * went from true to false, with the lines through the station. */
rpc_status tr_emit_station_status(rpc_ctx *ctx, const char *station_id, const char *name, bool from, bool to,
                                  const char *reason) {
  if (from == to) return RPC_OK;
  Metro__Events__V1__StationStatusChanged changed = METRO__EVENTS__V1__STATION_STATUS_CHANGED__INIT;
  changed.station_id = (char *)station_id;
  changed.from = from;
  changed.to = to;
  rpc_status st = ev_publish(ctx->arena, "station.status_changed", station_id, &changed.base, ctx->traceparent);
  if (!rpc_ok(st) || to) return st;
  const char *params[1] = {station_id};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "SELECT ls.route_id FROM line_stations ls JOIN lines l USING (route_id) "
               "WHERE ls.station_id = $1 ORDER BY l.position",
               1, params);
  if (!rpc_ok(st)) return st;
  Metro__Events__V1__StationDeactivated gone = METRO__EVENTS__V1__STATION_DEACTIVATED__INIT;
  gone.station_id = (char *)station_id;
  gone.station_name = (char *)name;
  gone.reason = (char *)(reason && *reason ? reason : "admin");
  gone.n_affected_route_ids = (size_t)PQntuples(r);
  gone.affected_route_ids = arena_alloc(ctx->arena, sizeof(char *) * (gone.n_affected_route_ids + 1));
  for (int i = 0; i < PQntuples(r); i++) gone.affected_route_ids[i] = arena_strdup(ctx->arena, pg_value(r, i, 0));
  return ev_publish(ctx->arena, "station.deactivated", station_id, &gone.base, ctx->traceparent);
}
