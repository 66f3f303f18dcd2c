/* The holders a station closure concerns (domain spec §14), for the notification service:
 * open tickets that start or end at the station or ride a closed line, and every open pass,
 * read in pages by ticket id so a large network is fanned out in bounded steps. */
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"
#include "common/text.h"
#include "svc/ticket/ticket.h"

enum { DEFAULT_PAGE = 500, MAX_PAGE = 1000, MAX_ROUTES = 64 };

/* The route ids as a PostgreSQL text[] literal; false for an id that is not a slug. */
static bool route_array(rpc_ctx *ctx, char *const *ids, size_t n, const char **out) {
  const char *lit = "{";
  for (size_t i = 0; i < n; i++) {
    if (!tk_is_slug(ids[i])) return false;
    lit = arena_printf(ctx->arena, "%s%s\"%s\"", lit, i ? "," : "", ids[i]);
  }
  *out = arena_printf(ctx->arena, "%s}", lit);
  return true;
}

rpc_status tk_list_affected_holders(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Ticket__V1__ListAffectedHoldersRequest *r = (const void *)msg;
  if (!tk_is_slug(r->station_id))
    return rpc_invalid(ctx->arena, "stationId", "INVALID_ID", "stationId must be a station id");
  const char *routes;
  if (r->n_route_ids > MAX_ROUTES || !route_array(ctx, r->route_ids, r->n_route_ids, &routes))
    return rpc_invalid(ctx->arena, "routeIds", "INVALID_ID", "routeIds must be at most %d line ids", MAX_ROUTES);
  if (r->page_size < 0 || r->page_size > MAX_PAGE)
    return rpc_invalid(ctx->arena, "pageSize", "INVALID_PAGE_SIZE", "pageSize must be 0-%d", MAX_PAGE);
  if (*r->page_token && !tk_is_uuid(r->page_token))
    return rpc_invalid(ctx->arena, "pageToken", "INVALID_PAGE_TOKEN", "pageToken is not one this list issued");
  int size = r->page_size ? r->page_size : DEFAULT_PAGE;
  const char *params[] = {r->station_id, routes, *r->page_token ? r->page_token : NULL,
                          arena_printf(ctx->arena, "%d", size + 1)};
  PGresult *res;
  rpc_status st = pg_exec(
      ctx->arena, &res,
      "SELECT ticket_id, user_id, passenger_id, ticket_type, ticket_type NOT IN ('oneway', 'return') FROM tickets "
      "WHERE status IN ('active', 'inactive', 'abused') AND ($3::uuid IS NULL OR ticket_id > $3::uuid) "
      "AND (ticket_type NOT IN ('oneway', 'return') OR origin_station_id = $1 OR destination_station_id = $1 "
      "OR route_ids && $2::text[]) ORDER BY ticket_id LIMIT $4::int",
      4, params);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(res), shown = n > size ? size : n;
  Metro__Ticket__V1__ListAffectedHoldersResponse *resp = RPC_NEW(
      ctx, Metro__Ticket__V1__ListAffectedHoldersResponse, metro__ticket__v1__list_affected_holders_response__init);
  resp->holders = arena_alloc(ctx->arena, sizeof *resp->holders * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) {
    Metro__Ticket__V1__AffectedHolder *h =
        RPC_NEW(ctx, Metro__Ticket__V1__AffectedHolder, metro__ticket__v1__affected_holder__init);
    h->ticket_id = arena_strdup(ctx->arena, PQgetvalue(res, i, 0));
    h->user_id = arena_strdup(ctx->arena, PQgetvalue(res, i, 1));
    h->passenger_id = arena_strdup(ctx->arena, PQgetvalue(res, i, 2));
    h->ticket_type = arena_strdup(ctx->arena, PQgetvalue(res, i, 3));
    h->is_pass = strcmp(PQgetvalue(res, i, 4), "t") == 0;
    resp->holders[resp->n_holders++] = h;
  }
  resp->next_page_token = n > size ? resp->holders[shown - 1]->ticket_id : "";
  *out = &resp->base;
  return RPC_OK;
}
