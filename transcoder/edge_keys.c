/* The gateway's API-key cache and check (see edge_keys.h): a record is fetched from the auth
 * service on a miss and trusted for cache_ms, absent keys included, so a revocation takes effect
 * within that time and a request costs no call while its key is cached. */
#include "transcoder/edge_keys.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/api_key.h"
#include "common/clock.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/rpc_client.h"
#include "metro/auth/v1/auth.pb-c.h"

#define KEY_ID_LEN API_KEY_ID_LEN
#define MAX_CACHED 10000
#define MAX_PREFIXES 32
#define MAX_PREFIX_LEN 200
#define IDENTITY_TTL_S 60
#define LOOKUP_TIMEOUT_MS 2000

typedef struct cached_key {
  char key_id[KEY_ID_LEN + 1];
  bool found;
  char sha256_hex[API_KEY_SHA256_HEX_LEN + 1];
  char *roles[RPC_MAX_ROLES];
  int n_roles;
  char *prefixes[MAX_PREFIXES];
  int n_prefixes;
  int64_t per_minute;
  int64_t expire_unix, revoke_unix; /* 0: none */
  int64_t fetched_ms;
  struct cached_key *next;
} cached_key;

#define BUCKETS 1024
static cached_key *buckets[BUCKETS];
static int n_cached;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static edge_keys_config g_cfg;

static unsigned bucket_of(const char *key_id) {
  unsigned h = 2166136261u;
  for (const char *p = key_id; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  return h % BUCKETS;
}

static void entry_free(cached_key *e) {
  for (int i = 0; i < e->n_roles; i++) free(e->roles[i]);
  for (int i = 0; i < e->n_prefixes; i++) free(e->prefixes[i]);
  free(e);
}

static void cache_clear_locked(void) {
  for (int b = 0; b < BUCKETS; b++) {
    while (buckets[b]) {
      cached_key *e = buckets[b];
      buckets[b] = e->next;
      entry_free(e);
    }
  }
  n_cached = 0;
}

void edge_keys_start(const edge_keys_config *cfg) { g_cfg = *cfg; }

void edge_keys_stop(void) {
  pthread_mutex_lock(&cache_lock);
  cache_clear_locked();
  pthread_mutex_unlock(&cache_lock);
}

static char *dup_bounded(const char *s, size_t max) { return s && strlen(s) <= max ? strdup(s) : NULL; }

/* Fetches the record for key_id from the auth service into a new entry; NULL when the
 * service cannot be asked (the request then fails with 503, not 401). */
static cached_key *fetch(const char *key_id) {
  arena *a = arena_create(4096);
  rpc_call_meta meta = rpc_meta_service(a, "transcoder");
  Metro__Auth__V1__LookupApiKeyRequest req = METRO__AUTH__V1__LOOKUP_API_KEY_REQUEST__INIT;
  req.key_id = (char *)key_id;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(g_cfg.auth_target), a, "/metro.auth.v1.AuthService/LookupApiKey",
                                 &meta, &req.base, &metro__auth__v1__api_key_credential__descriptor, &resp,
                                 LOOKUP_TIMEOUT_MS, INT64_MAX);
  cached_key *e = calloc(1, sizeof *e);
  if (!e) abort();
  memcpy(e->key_id, key_id, KEY_ID_LEN + 1);
  e->fetched_ms = clock_mono_ms();
  if (st.code == GRPC_STATUS_NOT_FOUND) {
    arena_destroy(a);
    return e;
  }
  const Metro__Auth__V1__ApiKeyCredential *cred = (const void *)resp;
  if (!rpc_ok(st) || !cred || !cred->api_key || !cred->secret_sha256_hex ||
      strlen(cred->secret_sha256_hex) != API_KEY_SHA256_HEX_LEN) {
    log_warn("API key lookup failed: %s", rpc_ok(st) ? "malformed answer" : (st.message ? st.message : ""));
    free(e);
    arena_destroy(a);
    return NULL;
  }
  const Metro__Auth__V1__ApiKey *k = cred->api_key;
  e->found = true;
  memcpy(e->sha256_hex, cred->secret_sha256_hex, API_KEY_SHA256_HEX_LEN + 1);
  for (size_t i = 0; i < k->n_roles && e->n_roles < RPC_MAX_ROLES; i++) {
    char *r = dup_bounded(k->roles[i], 64);
    if (r) e->roles[e->n_roles++] = r;
  }
  for (size_t i = 0; i < k->n_route_prefixes && e->n_prefixes < MAX_PREFIXES; i++) {
    char *p = dup_bounded(k->route_prefixes[i], MAX_PREFIX_LEN);
    if (p) e->prefixes[e->n_prefixes++] = p;
  }
  e->per_minute = k->rate_limit_per_minute;
  e->expire_unix = k->expire_time ? k->expire_time->seconds : 0;
  e->revoke_unix = k->revoke_time ? k->revoke_time->seconds : 0;
  arena_destroy(a);
  return e;
}

/* The cached entry for key_id, fetched when missing or older than cache_ms; copied into *out
 * under the lock. False when the auth service could not be asked. */
static bool lookup(arena *a, const char *key_id, cached_key *out) {
  unsigned b = bucket_of(key_id);
  int64_t now = clock_mono_ms();
  pthread_mutex_lock(&cache_lock);
  cached_key **slot = &buckets[b];
  while (*slot && strcmp((*slot)->key_id, key_id) != 0) slot = &(*slot)->next;
  cached_key *e = *slot;
  if (e && now - e->fetched_ms > g_cfg.cache_ms) {
    *slot = e->next;
    entry_free(e);
    n_cached--;
    e = NULL;
  }
  pthread_mutex_unlock(&cache_lock);
  if (!e) {
    e = fetch(key_id);
    if (!e) return false;
    pthread_mutex_lock(&cache_lock);
    if (n_cached >= MAX_CACHED) cache_clear_locked();
    e->next = buckets[b];
    buckets[b] = e;
    n_cached++;
  } else {
    pthread_mutex_lock(&cache_lock);
  }
  *out = *e;
  for (int i = 0; i < e->n_roles; i++) out->roles[i] = arena_strdup(a, e->roles[i]);
  for (int i = 0; i < e->n_prefixes; i++) out->prefixes[i] = arena_strdup(a, e->prefixes[i]);
  pthread_mutex_unlock(&cache_lock);
  return true;
}

edge_key_result edge_keys_check(arena *a, const char *key, const char *path, edge_key_identity *out,
                                const char **why) {
  memset(out, 0, sizeof *out);
  char key_id[KEY_ID_LEN + 1];
  if (!api_key_parse(key, key_id)) {
    *why = "the API key is malformed";
    return EDGE_KEY_INVALID;
  }
  cached_key rec;
  if (!lookup(a, key_id, &rec)) {
    *why = "API keys cannot be checked right now";
    return EDGE_KEY_UNAVAILABLE;
  }
  int64_t now = (int64_t)time(NULL);
  if (!rec.found || !api_key_matches(key, rec.sha256_hex)) {
    *why = "the API key is not valid";
    return EDGE_KEY_INVALID;
  }
  if (rec.revoke_unix) {
    *why = "the API key has been revoked";
    return EDGE_KEY_INVALID;
  }
  if (rec.expire_unix && rec.expire_unix <= now) {
    *why = "the API key has expired";
    return EDGE_KEY_INVALID;
  }
  bool in_scope = rec.n_prefixes == 0;
  for (int i = 0; i < rec.n_prefixes && !in_scope; i++)
    in_scope = strncmp(path, rec.prefixes[i], strlen(rec.prefixes[i])) == 0;
  if (!in_scope) {
    *why = "this API key may not call this route";
    return EDGE_KEY_OUT_OF_SCOPE;
  }
  out->key_id = arena_strdup(a, key_id);
  out->who.user_id = arena_printf(a, "apikey:%s", key_id);
  for (int i = 0; i < rec.n_roles; i++) out->who.roles[i] = rec.roles[i];
  out->who.n_roles = rec.n_roles;
  out->per_minute = rec.per_minute;
  int64_t exp = now + IDENTITY_TTL_S;
  if (rec.expire_unix && rec.expire_unix < exp) exp = rec.expire_unix;
  if (!identity_sign(a, g_cfg.identity_secret, out->who.user_id, (const char *const *)out->who.roles, out->who.n_roles,
                     exp, &out->identity, &out->identity_sig)) {
    *why = "the API key carries roles the gateway cannot forward";
    return EDGE_KEY_INVALID;
  }
  return EDGE_KEY_OK;
}
