/* The control service's calls to transport: the lines with their stations (cached for the
 * ticket.used consumer, fetched afresh for generation), a line's active trains, journey plans,
 * and BulkUpsertTrips. Reads of the public network go as service "control"; the staff and
 * admin methods carry the caller's identity (GenerateSchedules is admin-only itself). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/rpc_client.h"
#include "svc/control/control.h"

#define TRANSPORT "/metro.transport.v1.TransportService/"

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rpc_status call(rpc_ctx *ctx, const char *method, bool as_caller, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *out_type, ProtobufCMessage **out, int64_t timeout_ms) {
  rpc_channel *ch = rpc_channel_get(ct_st(ctx)->settings.transport_addr);
  if (!ch) return rpc_internal("control: no channel to the transport service");
  rpc_call_meta meta = as_caller ? rpc_meta_from_ctx(ctx) : rpc_meta_as_service(ctx, "control");
  return rpc_call_unary(ch, ctx->arena, method, &meta, req, out_type, out, (int)timeout_ms, ctx->deadline_ms);
}

/* Every line, page after page, into one ListLinesResponse. */
static rpc_status fetch_lines(rpc_ctx *ctx, Metro__Transport__V1__ListLinesResponse **out) {
  Metro__Transport__V1__ListLinesResponse *all =
      RPC_NEW(ctx, Metro__Transport__V1__ListLinesResponse, metro__transport__v1__list_lines_response__init);
  size_t cap = 0;
  const char *token = "";
  for (int page = 0; page < 100; page++) {
    Metro__Transport__V1__ListLinesRequest req = METRO__TRANSPORT__V1__LIST_LINES_REQUEST__INIT;
    req.page_size = 100;
    req.page_token = (char *)token;
    ProtobufCMessage *resp;
    rpc_status st = call(ctx, TRANSPORT "ListLines", false, &req.base,
                         &metro__transport__v1__list_lines_response__descriptor, &resp,
                         ct_st(ctx)->settings.call_timeout_ms);
    if (!rpc_ok(st)) return st;
    const Metro__Transport__V1__ListLinesResponse *r = (const void *)resp;
    if (all->n_lines + r->n_lines > cap) {
      size_t grown = (all->n_lines + r->n_lines) * 2 + 8;
      Metro__Transport__V1__Line **lines = arena_alloc(ctx->arena, sizeof(*lines) * grown);
      if (all->n_lines) memcpy(lines, all->lines, sizeof(*lines) * all->n_lines);
      all->lines = lines;
      cap = grown;
    }
    for (size_t i = 0; i < r->n_lines; i++) all->lines[all->n_lines++] = r->lines[i];
    if (!r->next_page_token || !*r->next_page_token) break;
    token = r->next_page_token;
  }
  *out = all;
  return RPC_OK;
}

static ct_network *network_of(rpc_ctx *ctx, const Metro__Transport__V1__ListLinesResponse *r) {
  return ct_network_from_lines(ctx->arena, r->lines, (int)r->n_lines);
}

rpc_status ct_network_get(rpc_ctx *ctx, bool fresh, ct_network **out) {
  ct_network_cache *c = &((ct_state *)ctx->state)->network;
  int64_t now = monotonic_ms();
  uint8_t *copy = NULL;
  size_t len = 0;
  pthread_mutex_lock(&c->lock);
  if (!fresh && c->packed && now - c->loaded_ms < ct_st(ctx)->settings.network_cache_ms) {
    len = c->len;
    copy = arena_alloc(ctx->arena, len ? len : 1);
    memcpy(copy, c->packed, len);
  }
  pthread_mutex_unlock(&c->lock);
  if (copy) {
    Metro__Transport__V1__ListLinesResponse *r =
        metro__transport__v1__list_lines_response__unpack(&ctx->alloc, len, copy);
    if (r) return *out = network_of(ctx, r), RPC_OK;
  }
  Metro__Transport__V1__ListLinesResponse *r;
  rpc_status st = fetch_lines(ctx, &r);
  if (!rpc_ok(st)) return st;
  size_t n = protobuf_c_message_get_packed_size(&r->base);
  uint8_t *packed = malloc(n ? n : 1);
  if (packed) {
    protobuf_c_message_pack(&r->base, packed);
    pthread_mutex_lock(&c->lock);
    free(c->packed);
    c->packed = packed;
    c->len = n;
    c->loaded_ms = monotonic_ms();
    pthread_mutex_unlock(&c->lock);
  }
  *out = network_of(ctx, r);
  return RPC_OK;
}

void ct_network_cache_destroy(ct_state *st) {
  pthread_mutex_lock(&st->network.lock);
  free(st->network.packed);
  st->network.packed = NULL;
  pthread_mutex_unlock(&st->network.lock);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

rpc_status ct_active_trains(rpc_ctx *ctx, const char *route_id, const char ***ids, int *n, int *capacity) {
  size_t cap = 128;
  const char **out = arena_alloc(ctx->arena, sizeof(char *) * cap);
  int count = 0, min_capacity = 0;
  const char *token = "";
  for (int page = 0; page < 1000; page++) {
    Metro__Transport__V1__ListTrainsRequest req = METRO__TRANSPORT__V1__LIST_TRAINS_REQUEST__INIT;
    req.page_size = 100;
    req.page_token = (char *)token;
    req.route_id = (char *)route_id;
    req.status = "active";
    ProtobufCMessage *resp;
    rpc_status st = call(ctx, TRANSPORT "ListTrains", true, &req.base,
                         &metro__transport__v1__list_trains_response__descriptor, &resp,
                         ct_st(ctx)->settings.call_timeout_ms);
    if (!rpc_ok(st)) return st;
    const Metro__Transport__V1__ListTrainsResponse *r = (const void *)resp;
    for (size_t i = 0; i < r->n_trains; i++) {
      if ((size_t)count == cap) {
        const char **grown = arena_alloc(ctx->arena, sizeof(char *) * cap * 2);
        memcpy(grown, out, sizeof(char *) * cap);
        out = grown;
        cap *= 2;
      }
      out[count++] = r->trains[i]->train_id;
      if (r->trains[i]->capacity > 0 && (min_capacity == 0 || r->trains[i]->capacity < min_capacity))
        min_capacity = r->trains[i]->capacity;
    }
    if (!r->next_page_token || !*r->next_page_token) break;
    token = r->next_page_token;
  }
  /* The generator takes "the lowest trainId" on ties: ids in ascending order. */
  qsort(out, (size_t)count, sizeof *out, cmp_str);
  *ids = out;
  *n = count;
  *capacity = min_capacity;
  return RPC_OK;
}

rpc_status ct_plan_journey(rpc_ctx *ctx, const char *from, const char *to, Metro__Transport__V1__JourneyPlan **out) {
  Metro__Transport__V1__PlanJourneyRequest req = METRO__TRANSPORT__V1__PLAN_JOURNEY_REQUEST__INIT;
  req.origin_station_id = (char *)from;
  req.destination_station_id = (char *)to;
  ProtobufCMessage *resp;
  rpc_status st = call(ctx, TRANSPORT "PlanJourney", false, &req.base, &metro__transport__v1__journey_plan__descriptor,
                       &resp, ct_st(ctx)->settings.call_timeout_ms);
  if (rpc_ok(st)) *out = (Metro__Transport__V1__JourneyPlan *)resp;
  return st;
}

rpc_status ct_bulk_upsert(rpc_ctx *ctx, const Metro__Transport__V1__BulkUpsertTripsRequest *req,
                          Metro__Transport__V1__BulkUpsertTripsResponse **out) {
  ProtobufCMessage *resp;
  rpc_status st = call(ctx, TRANSPORT "BulkUpsertTrips", true, &req->base,
                       &metro__transport__v1__bulk_upsert_trips_response__descriptor, &resp,
                       ct_st(ctx)->settings.upsert_timeout_ms);
  if (rpc_ok(st)) *out = (Metro__Transport__V1__BulkUpsertTripsResponse *)resp;
  return st;
}
