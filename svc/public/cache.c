/* The public read cache on Redis (see cache.h). One round trip per hit: MGET of the kind's
 * generation, the scope's generation and the entry. An entry is stored once, with the
 * generations read before its source was asked and a Redis TTL of the stale retention, so
 * the same key is the fresh answer while it is current and the fallback afterwards. */
#include "svc/public/cache.h"

#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"

/* Per-kind stale retention; 0 = the configured default. Departures asked for "now" are
 * keyed by the minute, so their copies are worth little after an hour. */
static const int kind_stale_ttl_s[PUB_N_KINDS] = {[PUB_KIND_DEPARTURES] = 3600};

/* Generations come from one counter, so a scope generation that expired and is set again
 * never repeats a value an old entry carries. KEYS: counter, generation; ARGV: TTL (0 = none). */
static const char bump_script[] =
    "local v = redis.call('INCR', KEYS[1]) "
    "if ARGV[1] == '0' then redis.call('SET', KEYS[2], v) else redis.call('SET', KEYS[2], v, 'EX', ARGV[1]) end "
    "return v";

static pub_cache_settings g_settings = {.ttl_s = 3600, .stale_ttl_s = 7 * 86400};
static metric_family *m_lookups;

void pub_cache_init(const pub_cache_settings *s) {
  g_settings = *s;
  m_lookups = metrics_counter("metro_public_cache_total",
                              "Public cache lookups by kind and result (hit, miss, stale, bypass, error)", "kind",
                              "result");
}

static int stale_ttl(pub_kind k) { return kind_stale_ttl_s[k] ? kind_stale_ttl_s[k] : g_settings.stale_ttl_s; }

static void count(pub_kind k, const char *result) {
  if (m_lookups) metrics_add(m_lookups, pub_kind_name(k), result, 1);
}

static bool source_unreachable(grpc_status_code c) {
  return c == GRPC_STATUS_UNAVAILABLE || c == GRPC_STATUS_DEADLINE_EXCEEDED;
}

/* What one MGET told: the generations (0 when never bumped) and the entry, if any. */
typedef struct lookup {
  uint64_t kind_gen, scope_gen;
  bool have_entry;
  pub_entry entry;
} lookup;

static bool read_generation(const redisReply *r, uint64_t *out) {
  if (r->type == REDIS_REPLY_NIL) return pub_gen_parse(NULL, 0, out);
  return r->type == REDIS_REPLY_STRING && pub_gen_parse(r->str, r->len, out);
}

/* False when Redis is unreachable or answered nonsense. */
static bool look_up(arena *a, const pub_cache_key *key, const char *entry_key, lookup *out) {
  memset(out, 0, sizeof *out);
  bool scoped = key->scope && *key->scope;
  redisReply *r = scoped ? redis_command(a, "MGET %s %s %s", pub_gen_key(a, key->kind, NULL),
                                         pub_gen_key(a, key->kind, key->scope), entry_key)
                         : redis_command(a, "MGET %s %s", pub_gen_key(a, key->kind, NULL), entry_key);
  size_t want = scoped ? 3 : 2;
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != want) {
    if (r) log_warn("public cache: unexpected MGET reply (type %d)", r->type);
    return false;
  }
  if (!read_generation(r->element[0], &out->kind_gen)) return false;
  if (scoped && !read_generation(r->element[1], &out->scope_gen)) return false;
  const redisReply *e = r->element[want - 1];
  if (e->type == REDIS_REPLY_STRING)
    out->have_entry = pub_entry_decode((const uint8_t *)e->str, e->len, &out->entry);
  return true;
}

static ProtobufCMessage *unpack(rpc_ctx *ctx, const ProtobufCMessageDescriptor *type, const pub_entry *e) {
  return protobuf_c_message_unpack(type, &ctx->alloc, e->payload_len, e->payload);
}

/* An answer that packs to nothing (an empty list) is not stored: timetables are written in
 * the background (demo seed, bulk upserts) and an empty answer cached before them would
 * hide them for a whole TTL. */
static void store(rpc_ctx *ctx, const pub_cache_key *key, const char *entry_key, const lookup *l,
                  const ProtobufCMessage *msg) {
  size_t n = protobuf_c_message_get_packed_size(msg);
  if (n == 0) return;
  uint8_t *packed = arena_alloc(ctx->arena, n);
  protobuf_c_message_pack(msg, packed);
  pub_entry e = {.kind_gen = l->kind_gen, .scope_gen = l->scope_gen, .filled_ms = clock_real_ms(), .payload = packed,
                 .payload_len = n};
  size_t len;
  uint8_t *value = pub_entry_encode(ctx->arena, &e, &len);
  redisReply *r = redis_command(ctx->arena, "SET %s %b EX %d", entry_key, value, len, stale_ttl(key->kind));
  if (!r || r->type == REDIS_REPLY_ERROR)
    log_warn("public cache: cannot store %s: %s", entry_key, r ? r->str : "redis unavailable");
}

rpc_status pub_cache_get(rpc_ctx *ctx, const pub_cache_key *key, const ProtobufCMessageDescriptor *type,
                         pub_fetch_fn fetch, const void *arg, ProtobufCMessage **out, pub_source *source) {
  pub_source dummy;
  if (!source) source = &dummy;
  const char *entry_key = pub_entry_key(ctx->arena, key->kind, key->scope, key->args);
  lookup l;
  if (!look_up(ctx->arena, key, entry_key, &l)) {
    count(key->kind, "bypass");
    *source = PUB_FROM_SOURCE_NO_CACHE;
    return fetch(ctx, arg, out);
  }
  if (l.have_entry && pub_entry_fresh(&l.entry, l.kind_gen, l.scope_gen, clock_real_ms(), g_settings.ttl_s)) {
    ProtobufCMessage *m = unpack(ctx, type, &l.entry);
    if (m) {
      count(key->kind, "hit");
      *source = PUB_FROM_CACHE;
      *out = m;
      return RPC_OK;
    }
    log_warn("public cache: %s does not decode; refetching", entry_key);
    l.have_entry = false;
  }
  rpc_status st = fetch(ctx, arg, out);
  if (rpc_ok(st)) {
    count(key->kind, "miss");
    *source = PUB_FROM_SOURCE;
    store(ctx, key, entry_key, &l, *out);
    return st;
  }
  if (source_unreachable(st.code) && l.have_entry) {
    ProtobufCMessage *m = unpack(ctx, type, &l.entry);
    if (m) {
      count(key->kind, "stale");
      log_warn("public cache: source unreachable (%s); serving %s from %lld s ago", rpc_code_name(st.code), entry_key,
               (long long)((clock_real_ms() - l.entry.filled_ms) / 1000));
      *source = PUB_FROM_STALE;
      *out = m;
      return RPC_OK;
    }
  }
  count(key->kind, "error");
  /* Gone at the source: no fallback may resurrect it later. */
  if (st.code == GRPC_STATUS_NOT_FOUND && l.have_entry) redis_command(ctx->arena, "DEL %s", entry_key);
  return st;
}

bool pub_cache_invalidate(arena *a, pub_kind kind, const char *scope) {
  bool scoped = scope && *scope;
  /* A scope generation must outlive every entry it could wrongly make fresh again: those
   * filled before it was first set are older than ttl_s once it expires. */
  int ttl = scoped ? 2 * g_settings.ttl_s : 0;
  redisReply *r = redis_command(a, "EVAL %s 2 %s %s %d", bump_script, PUB_KEY_PREFIX "gen-seq",
                                pub_gen_key(a, kind, scoped ? scope : NULL), ttl);
  if (!r || r->type != REDIS_REPLY_INTEGER) {
    log_warn("public cache: cannot invalidate %s%s%s: %s", pub_kind_name(kind), scoped ? " " : "",
             scoped ? scope : "", r && r->type == REDIS_REPLY_ERROR ? r->str : "redis unavailable");
    return false;
  }
  log_info("public cache: invalidated %s%s%s (generation %lld)", pub_kind_name(kind), scoped ? " " : "",
           scoped ? scope : "", (long long)r->integer);
  return true;
}
