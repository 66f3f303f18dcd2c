/* The public cache's names and stored format, apart from Redis so they can be tested
 * alone: kind names, key layout, and the entry header (generations and fill time) that
 * decides whether a stored answer is fresh or only good as a fallback. */
#include <stdlib.h>
#include <string.h>

#include "svc/public/cache.h"

static const char *const kind_names[PUB_N_KINDS] = {
    [PUB_KIND_STATIONS] = "stations", [PUB_KIND_LINES] = "lines",   [PUB_KIND_JOURNEYS] = "journeys",
    [PUB_KIND_TRIPS] = "trips",       [PUB_KIND_DEPARTURES] = "departures", [PUB_KIND_GTFS] = "gtfs",
    [PUB_KIND_FARES] = "fares",       [PUB_KIND_PASSES] = "passes", [PUB_KIND_DISCOUNTS] = "discounts",
};

static const uint8_t entry_magic[4] = {'M', 'P', 'C', '1'};

const char *pub_kind_name(pub_kind k) { return (unsigned)k < PUB_N_KINDS ? kind_names[k] : "unknown"; }

bool pub_kind_parse(const char *name, pub_kind *out) {
  for (int k = 0; name && k < PUB_N_KINDS; k++)
    if (strcmp(name, kind_names[k]) == 0) {
      *out = (pub_kind)k;
      return true;
    }
  return false;
}

char *pub_entry_key(arena *a, pub_kind kind, const char *scope, const char *args) {
  return arena_printf(a, PUB_KEY_PREFIX "%s:%s:%s", pub_kind_name(kind), scope && *scope ? scope : "-",
                      args && *args ? args : "-");
}

char *pub_gen_key(arena *a, pub_kind kind, const char *scope) {
  if (!scope || !*scope) return arena_printf(a, PUB_KEY_PREFIX "gen:%s", pub_kind_name(kind));
  return arena_printf(a, PUB_KEY_PREFIX "gen:%s:%s", pub_kind_name(kind), scope);
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)(v & 0xff);
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

uint8_t *pub_entry_encode(arena *a, const pub_entry *e, size_t *len) {
  *len = PUB_ENTRY_HEADER_LEN + e->payload_len;
  uint8_t *buf = arena_alloc(a, *len);
  memcpy(buf, entry_magic, 4);
  put_u64(buf + 4, e->kind_gen);
  put_u64(buf + 12, e->scope_gen);
  put_u64(buf + 20, (uint64_t)e->filled_ms);
  if (e->payload_len) memcpy(buf + PUB_ENTRY_HEADER_LEN, e->payload, e->payload_len);
  return buf;
}

bool pub_entry_decode(const uint8_t *buf, size_t len, pub_entry *out) {
  if (!buf || len < PUB_ENTRY_HEADER_LEN || memcmp(buf, entry_magic, 4) != 0) return false;
  out->kind_gen = get_u64(buf + 4);
  out->scope_gen = get_u64(buf + 12);
  out->filled_ms = (int64_t)get_u64(buf + 20);
  out->payload = buf + PUB_ENTRY_HEADER_LEN;
  out->payload_len = len - PUB_ENTRY_HEADER_LEN;
  return out->filled_ms >= 0;
}

bool pub_entry_fresh(const pub_entry *e, uint64_t kind_gen, uint64_t scope_gen, int64_t now_ms, int ttl_s) {
  if (e->kind_gen != kind_gen || e->scope_gen != scope_gen) return false;
  int64_t age = now_ms - e->filled_ms;
  /* A fill time in the future (clock stepped back) counts as old, not as fresh forever. */
  return age >= 0 && age < (int64_t)ttl_s * 1000;
}

bool pub_gen_parse(const char *s, size_t len, uint64_t *out) {
  *out = 0;
  if (!s) return true;
  if (len == 0 || len > 19) return false;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    *out = *out * 10 + (uint64_t)(s[i] - '0');
  }
  return true;
}
