/* The public read cache (domain spec §18): Redis-backed, read-through, one generation
 * counter per kind (and per narrower scope) for invalidation, and the last value kept as
 * the fallback served while the source is unreachable. */
#ifndef METRO_PUBLIC_CACHE_H
#define METRO_PUBLIC_CACHE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc_server.h"

/* What is cached. A new kind of public answer (the ticket service's fares, passes and
 * discounts are already here) is one row in cache.c's kind table and one handler. */
typedef enum pub_kind {
  PUB_KIND_STATIONS,
  PUB_KIND_LINES,
  PUB_KIND_JOURNEYS,
  PUB_KIND_TRIPS,
  PUB_KIND_DEPARTURES,
  PUB_KIND_GTFS,
  PUB_KIND_FARES,
  PUB_KIND_PASSES,
  PUB_KIND_DISCOUNTS,
  PUB_N_KINDS
} pub_kind;

const char *pub_kind_name(pub_kind k);
/* False when name is no kind. */
bool pub_kind_parse(const char *name, pub_kind *out);

/* ---- keys and stored entries (cache_entry.c; pure) ---- */

#define PUB_KEY_PREFIX "metro:public:v1:"
#define PUB_ENTRY_HEADER_LEN 28

/* One stored answer: the generations it was filled under, when, and the packed message. */
typedef struct pub_entry {
  uint64_t kind_gen, scope_gen;
  int64_t filled_ms;  /* CLOCK_REALTIME milliseconds */
  const uint8_t *payload;
  size_t payload_len;
} pub_entry;

/* "metro:public:v1:<kind>:<scope>:<args>" (scope "" = "-"). */
char *pub_entry_key(arena *a, pub_kind kind, const char *scope, const char *args);
/* "metro:public:v1:gen:<kind>" when scope is NULL or "", else "...:gen:<kind>:<scope>". */
char *pub_gen_key(arena *a, pub_kind kind, const char *scope);
/* Header ("MPC1", generations, fill time; big-endian) followed by the payload. */
uint8_t *pub_entry_encode(arena *a, const pub_entry *e, size_t *len);
/* False when the bytes are not an entry this module wrote. payload points into buf. */
bool pub_entry_decode(const uint8_t *buf, size_t len, pub_entry *out);
/* Fresh = filled under the current generations and less than ttl_s ago. */
bool pub_entry_fresh(const pub_entry *e, uint64_t kind_gen, uint64_t scope_gen, int64_t now_ms, int ttl_s);
/* A generation as Redis returns it ("123"; NULL = never bumped = 0). False when malformed. */
bool pub_gen_parse(const char *s, size_t len, uint64_t *out);

/* ---- the cache (cache.c) ---- */

typedef struct pub_cache_settings {
  int ttl_s;        /* freshness of an answer, 3,600 s by default (spec §19) */
  int stale_ttl_s;  /* how long the last value is kept as the fallback (7 days) */
} pub_cache_settings;

/* Once, before serving: settings and metrics. */
void pub_cache_init(const pub_cache_settings *s);

/* Identifies one cached answer: scope is a narrower invalidation unit within the kind
 * ("" = none; e.g. "<routeId>:<date>" for trips), args the rest of the question. Both
 * must be key-safe (validated input: [A-Za-z0-9:_.-]). */
typedef struct pub_cache_key {
  pub_kind kind;
  const char *scope;
  const char *args;
} pub_cache_key;

/* Reads the answer from the source (arena memory). */
typedef rpc_status (*pub_fetch_fn)(rpc_ctx *ctx, const void *arg, ProtobufCMessage **out);

typedef enum pub_source { PUB_FROM_CACHE, PUB_FROM_SOURCE, PUB_FROM_STALE, PUB_FROM_SOURCE_NO_CACHE } pub_source;

/* Read-through: a fresh cached answer of `type`, else fetch() and store what it returns.
 * When fetch fails with UNAVAILABLE or DEADLINE_EXCEEDED, the last value stored is served
 * however old; when Redis is down, fetch() answers directly. *source may be NULL. */
rpc_status pub_cache_get(rpc_ctx *ctx, const pub_cache_key *key, const ProtobufCMessageDescriptor *type,
                         pub_fetch_fn fetch, const void *arg, ProtobufCMessage **out, pub_source *source);

/* Makes every answer of the kind (scope NULL or "") or of one scope stale. False when
 * Redis is unreachable. */
bool pub_cache_invalidate(arena *a, pub_kind kind, const char *scope);

#endif
