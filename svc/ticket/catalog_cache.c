/* The catalog snapshot pricing reads on every quote and purchase: loaded from the database
 * at most every METRO_CATALOG_CACHE_MS, owned by this module (malloc'ed, behind one mutex),
 * copied into the caller's arena, and dropped at once by this replica's own catalog writes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "svc/ticket/ticket.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static tk_catalog snapshot;     /* arrays and strings malloc'ed */
static int64_t loaded_us;       /* 0 = none */
static uint64_t generation;     /* bumped by every invalidation */

static void snapshot_free(void) {
  for (size_t i = 0; i < snapshot.n_fares; i++) free((char *)snapshot.fare_route_ids[i]);
  free(snapshot.fare_route_ids);
  free(snapshot.fare_prices);
  memset(&snapshot, 0, sizeof snapshot);
  loaded_us = 0;
}

void tk_catalog_invalidate(void) {
  pthread_mutex_lock(&lock);
  snapshot_free();
  generation++;
  pthread_mutex_unlock(&lock);
}

/* Copies a catalog (from the snapshot or one just read) into `to`, fares in `a`. */
static void copy_into(arena *a, const tk_catalog *from, tk_catalog *to) {
  *to = *from;
  size_t n = from->n_fares ? from->n_fares : 1;
  to->fare_route_ids = arena_alloc(a, sizeof(char *) * n);
  to->fare_prices = arena_alloc(a, sizeof(int64_t) * n);
  for (size_t i = 0; i < from->n_fares; i++) {
    to->fare_route_ids[i] = arena_strdup(a, from->fare_route_ids[i]);
    to->fare_prices[i] = from->fare_prices[i];
  }
}

/* Keeps a catalog read at `gen` as the snapshot, unless an invalidation came meanwhile. */
static void keep(const tk_catalog *c, uint64_t gen, int64_t now) {
  pthread_mutex_lock(&lock);
  if (gen == generation) {
    snapshot_free();
    snapshot = *c;
    snapshot.fare_route_ids = calloc(c->n_fares ? c->n_fares : 1, sizeof(char *));
    snapshot.fare_prices = calloc(c->n_fares ? c->n_fares : 1, sizeof(int64_t));
    bool ok = snapshot.fare_route_ids && snapshot.fare_prices;
    for (size_t i = 0; ok && i < c->n_fares; i++) {
      snapshot.fare_route_ids[i] = strdup(c->fare_route_ids[i]);
      snapshot.fare_prices[i] = c->fare_prices[i];
      ok = snapshot.fare_route_ids[i] != NULL;
      snapshot.n_fares = i + 1;
    }
    if (ok) loaded_us = now;
    else snapshot_free();
  }
  pthread_mutex_unlock(&lock);
}

rpc_status tk_catalog_load(rpc_ctx *ctx, tk_catalog *out) {
  int64_t now = tk_now_us(), ttl_us = tk_cfg(ctx)->catalog_cache_ms * 1000;
  pthread_mutex_lock(&lock);
  bool fresh = loaded_us && now - loaded_us < ttl_us;
  if (fresh) copy_into(ctx->arena, &snapshot, out);
  uint64_t gen = generation;
  pthread_mutex_unlock(&lock);
  if (fresh) return RPC_OK;
  rpc_status st = tk_catalog_read(ctx, out);
  if (rpc_ok(st) && ttl_us > 0) keep(out, gen, now);
  return st;
}
