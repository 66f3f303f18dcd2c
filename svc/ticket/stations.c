/* Where taps happen: a station's state (exists, active, opening hours) from transport and a
 * gate's registration from the gates table, each kept a few seconds in-process
 * (METRO_STATION_CACHE_MS), so a tap costs no extra hop or query in the common case. Owned by
 * this module: one fixed table behind one mutex, keyed "s:<station>" and "g:<gate>". */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/pg.h"
#include "svc/ticket/ticket.h"

#define MAX_CACHED 1024

typedef struct cached_place {
  char key[68];
  tk_station station;       /* a station's state, or a gate's: found, is_active, and its station */
  char gate_station[65];
  int64_t fetched_us;
} cached_place;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cached_place table[MAX_CACHED];
static int n_cached;

/* "HH:MM" -> seconds of the day; false for anything else. */
static bool clock_of(const char *s, int *out) {
  int h, m;
  char tail;
  if (!s || sscanf(s, "%2d:%2d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 || m > 59) return false;
  *out = h * 3600 + m * 60;
  return true;
}

bool tk_station_open_at(const tk_station *s, int64_t now_us) {
  int t = tk_local_seconds(now_us);
  if (s->open_s <= s->close_s) return t >= s->open_s && t < s->close_s;
  return t >= s->open_s || t < s->close_s; /* open across midnight */
}

static bool lookup(const char *key, int64_t now, int64_t ttl_us, cached_place *out) {
  bool hit = false;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < n_cached && !hit; i++)
    if (strcmp(table[i].key, key) == 0 && now - table[i].fetched_us < ttl_us) {
      *out = table[i];
      hit = true;
    }
  pthread_mutex_unlock(&lock);
  return hit;
}

static void remember(const cached_place *p) {
  pthread_mutex_lock(&lock);
  int slot = -1;
  for (int i = 0; i < n_cached && slot < 0; i++)
    if (strcmp(table[i].key, p->key) == 0) slot = i;
  if (slot < 0) slot = n_cached < MAX_CACHED ? n_cached++ : (int)(p->fetched_us % MAX_CACHED);
  table[slot] = *p;
  pthread_mutex_unlock(&lock);
}

rpc_status tk_station_get(rpc_ctx *ctx, const char *station_id, tk_station *out) {
  memset(out, 0, sizeof *out);
  int64_t now = tk_now_us();
  if (strlen(station_id) > 64) return RPC_OK; /* names no station */
  cached_place place = {.fetched_us = now};
  snprintf(place.key, sizeof place.key, "s:%s", station_id);
  if (lookup(place.key, now, tk_cfg(ctx)->station_cache_ms * 1000, &place)) {
    *out = place.station;
    return RPC_OK;
  }
  Metro__Transport__V1__GetStationRequest req = METRO__TRANSPORT__V1__GET_STATION_REQUEST__INIT;
  req.station_id = (char *)station_id;
  ProtobufCMessage *m;
  rpc_status st = tk_call(ctx, tk_cfg(ctx)->transport_addr, "/metro.transport.v1.TransportService/GetStation",
                          &req.base, &metro__transport__v1__station__descriptor, &m);
  if (st.code == GRPC_STATUS_NOT_FOUND) return RPC_OK; /* found stays false; not cached */
  if (!rpc_ok(st)) return st;
  const Metro__Transport__V1__Station *s = (const void *)m;
  out->found = true;
  out->is_active = s->is_active;
  if (!clock_of(s->open_time, &out->open_s)) out->open_s = 5 * 3600;
  if (!clock_of(s->close_time, &out->close_s)) out->close_s = 23 * 3600;
  place.station = *out;
  remember(&place);
  return RPC_OK;
}

rpc_status tk_gate_get(rpc_ctx *ctx, const char *gate_id, bool *found, const char **station_id) {
  *found = false;
  int64_t now = tk_now_us();
  cached_place place = {.fetched_us = now};
  if (strlen(gate_id) > 64) return RPC_OK;
  snprintf(place.key, sizeof place.key, "g:%s", gate_id);
  if (!lookup(place.key, now, tk_cfg(ctx)->station_cache_ms * 1000, &place)) {
    const char *params[] = {gate_id};
    PGresult *r;
    rpc_status st =
        pg_exec(ctx->arena, &r, "SELECT station_id FROM gates WHERE gate_id = $1 AND is_active", 1, params);
    if (!rpc_ok(st)) return st;
    if (PQntuples(r) == 0) return RPC_OK; /* unknown gates are not cached: a new one counts at once */
    place.station.found = true;
    snprintf(place.gate_station, sizeof place.gate_station, "%s", PQgetvalue(r, 0, 0));
    remember(&place);
  }
  *found = place.station.found;
  *station_id = arena_strdup(ctx->arena, place.gate_station);
  return RPC_OK;
}
