/* The planner graph cache and PlanJourney's domain work: the graph is rebuilt from the
 * database when network_state.version moved (checked at most every recheck interval, at
 * once after this process's own writes), under a rwlock so queries run in parallel. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/pg.h"
#include "svc/transport/transport.h"

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tr_graph_invalidate(transport_state *st) { atomic_store(&st->cache.stale, true); }

void tr_graph_destroy(transport_state *st) {
  planner_free(st->cache.graph);
  st->cache.graph = NULL;
}

/* Loads stations and the active lines in network order, and builds a planner. */
static rpc_status build_graph(rpc_ctx *ctx, planner **out) {
  const transport_state *state = ctx->state;
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT station_id, is_active FROM stations", 0, NULL);
  if (!rpc_ok(st)) return st;
  int n_stations = PQntuples(r);
  planner_station_def *stations = arena_alloc(ctx->arena, sizeof(*stations) * (size_t)(n_stations + 1));
  for (int i = 0; i < n_stations; i++)
    stations[i] = (planner_station_def){pg_value(r, i, 0), strcmp(pg_value(r, i, 1), "t") == 0};
  PGresult *lr;
  st = pg_exec(ctx->arena, &lr,
               "SELECT l.route_id, ls.station_id FROM lines l JOIN line_stations ls USING (route_id) "
               "WHERE l.is_active ORDER BY l.position, ls.sequence",
               0, NULL);
  if (!rpc_ok(st)) return st;
  int rows = PQntuples(lr), n_lines = 0;
  planner_line_def *lines = arena_alloc(ctx->arena, sizeof(*lines) * (size_t)(rows + 1));
  const char **ids = arena_alloc(ctx->arena, sizeof(char *) * (size_t)(rows + 1));
  for (int i = 0; i < rows; i++) {
    const char *route = pg_value(lr, i, 0);
    if (n_lines == 0 || strcmp(lines[n_lines - 1].route_id, route) != 0)
      lines[n_lines++] = (planner_line_def){route, ids + i, 0};
    ids[i] = pg_value(lr, i, 1);
    lines[n_lines - 1].n_stations++;
  }
  if (n_lines > 255) return rpc_internal("planner: more than 255 lines in service");
  *out = planner_build(stations, n_stations, lines, n_lines, (int)state->settings.transfer_penalty);
  return *out ? RPC_OK : rpc_internal("planner: cannot build the graph");
}

/* Makes sure the cached graph is current. */
static rpc_status refresh(rpc_ctx *ctx) {
  transport_state *state = ctx->state;
  transport_graph_cache *c = &state->cache;
  int64_t now = monotonic_ms();
  /* Cleared before the version is read, so a write committing meanwhile marks it again. */
  bool stale = atomic_exchange(&c->stale, false);
  pthread_rwlock_rdlock(&c->lock);
  bool have = c->graph != NULL;
  pthread_rwlock_unlock(&c->lock);
  if (have && !stale && now - atomic_load(&c->checked_ms) < state->settings.planner_recheck_ms) return RPC_OK;
  int64_t version;
  rpc_status st = tr_network_version(ctx, &version);
  if (!rpc_ok(st)) {
    if (stale) atomic_store(&c->stale, true);
    return have ? RPC_OK : st; /* a known graph beats none while the database is away */
  }
  atomic_store(&c->checked_ms, now);
  pthread_rwlock_rdlock(&c->lock);
  bool current = c->graph && c->version == version;
  pthread_rwlock_unlock(&c->lock);
  if (current) return RPC_OK;
  /* Built outside the lock; two builders racing both install a current graph. */
  planner *fresh = NULL;
  if (!rpc_ok(st = build_graph(ctx, &fresh))) {
    atomic_store(&c->stale, true);
    return have ? RPC_OK : st;
  }
  pthread_rwlock_wrlock(&c->lock);
  planner *old = c->graph;
  c->graph = fresh;
  c->version = version;
  pthread_rwlock_unlock(&c->lock);
  planner_free(old);
  log_info("planner graph rebuilt at network version %lld", (long long)version);
  return RPC_OK;
}

static rpc_status plan_error(rpc_ctx *ctx, planner_result r, const char *origin, const char *dest) {
  switch (r) {
    case PLANNER_SAME_STATION:
      return rpc_invalid(ctx->arena, "destinationStationId", "SAME_STATION",
                         "the origin and the destination are the same station");
    case PLANNER_ORIGIN_NOT_FOUND:
      return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "station %s does not exist", origin);
    case PLANNER_DESTINATION_NOT_FOUND:
      return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "STATION_NOT_FOUND", "station %s does not exist", dest);
    case PLANNER_ORIGIN_INACTIVE:
      return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "STATION_INACTIVE", "station %s is closed", origin);
    case PLANNER_DESTINATION_INACTIVE:
      return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "STATION_INACTIVE", "station %s is closed", dest);
    default:
      return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "NO_ROUTE",
                       "no journey joins %s and %s on the lines in service", origin, dest);
  }
}

rpc_status tr_plan(rpc_ctx *ctx, const char *origin, const char *dest, Metro__Transport__V1__JourneyPlan **out) {
  transport_graph_cache *c = &((transport_state *)ctx->state)->cache;
  rpc_status st = refresh(ctx);
  if (!rpc_ok(st)) return st;
  planner_journey j;
  pthread_rwlock_rdlock(&c->lock);
  planner_result r = planner_plan(c->graph, origin, dest, &j);
  Metro__Transport__V1__JourneyPlan *p = NULL;
  if (r == PLANNER_OK) {
    /* Copy out of the graph's strings while the read lock keeps it alive. */
    p = RPC_NEW(ctx, Metro__Transport__V1__JourneyPlan, metro__transport__v1__journey_plan__init);
    p->origin_station_id = arena_strdup(ctx->arena, origin);
    p->destination_station_id = arena_strdup(ctx->arena, dest);
    p->cost = j.cost;
    p->transfers = j.transfers;
    p->n_segments = (size_t)j.n_segments;
    p->segments = arena_alloc(ctx->arena, sizeof(*p->segments) * (size_t)j.n_segments);
    p->n_transfer_station_ids = (size_t)j.transfers;
    p->transfer_station_ids = arena_alloc(ctx->arena, sizeof(char *) * (size_t)(j.transfers + 1));
    for (int i = 0; i < j.n_segments; i++) {
      Metro__Transport__V1__JourneySegment *s =
          RPC_NEW(ctx, Metro__Transport__V1__JourneySegment, metro__transport__v1__journey_segment__init);
      s->route_id = arena_strdup(ctx->arena, j.segments[i].route_id);
      s->from_station_id = arena_strdup(ctx->arena, j.segments[i].from_station_id);
      s->to_station_id = arena_strdup(ctx->arena, j.segments[i].to_station_id);
      s->station_count = j.segments[i].station_count;
      p->segments[i] = s;
      if (i < j.transfers) p->transfer_station_ids[i] = arena_strdup(ctx->arena, j.transfer_station_ids[i]);
    }
  }
  pthread_rwlock_unlock(&c->lock);
  if (r != PLANNER_OK) return plan_error(ctx, r, origin, dest);
  *out = p;
  return RPC_OK;
}
