/* The gateway's JWKS cache and bearer-token check (see edge_auth.h): keys swap under a
 * read-write lock; an unknown kid asks the refresher for an early, rate-limited fetch. */
#include "transcoder/edge_auth.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/identity.h"
#include "common/jwt.h"
#include "common/log.h"
#include "common/rpc_client.h"
#include "metro/auth/v1/auth.pb-c.h"

#define MAX_KEYS 8
#define LEEWAY_S 30
#define MIN_EARLY_REFRESH_S 10

static edge_auth_config g_cfg;
static pthread_rwlock_t keys_lock = PTHREAD_RWLOCK_INITIALIZER;
static jwt_key *keys[MAX_KEYS];
static int n_keys;
static bool loaded;

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool wake_requested, stopping;
static time_t last_fetch;
static pthread_t refresher;
static bool started;

static bool fetch_keys(void) {
  arena *a = arena_create(4096);
  Metro__Auth__V1__GetJwksRequest req = METRO__AUTH__V1__GET_JWKS_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(g_cfg.auth_target), a, "/metro.auth.v1.AuthService/GetJwks", NULL,
                                 &req.base, &metro__auth__v1__jwks__descriptor, &resp, 3000, INT64_MAX);
  bool ok = rpc_ok(st);
  if (ok) {
    const Metro__Auth__V1__Jwks *jwks = (const void *)resp;
    jwt_key *fresh[MAX_KEYS];
    int n = 0;
    for (size_t i = 0; i < jwks->n_keys && n < MAX_KEYS; i++) {
      const Metro__Auth__V1__Jwk *k = jwks->keys[i];
      json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kty", k->kty, "crv", k->crv, "x", k->x, "kid", k->kid);
      jwt_key *key = j ? jwt_key_from_jwk(j) : NULL;
      json_decref(j);
      if (key) fresh[n++] = key;
      else log_warn("JWKS: ignoring an unusable key");
    }
    pthread_rwlock_wrlock(&keys_lock);
    for (int i = 0; i < n_keys; i++) jwt_key_free(keys[i]);
    memcpy(keys, fresh, sizeof(jwt_key *) * (size_t)n);
    n_keys = n;
    loaded = n > 0;
    pthread_rwlock_unlock(&keys_lock);
    log_info("JWKS: loaded %d key(s)", n);
  } else {
    log_warn("JWKS fetch from %s failed: %s", g_cfg.auth_target, st.message ? st.message : "");
  }
  arena_destroy(a);
  return ok;
}

static void *refresh_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&wake_lock);
  while (!stopping) {
    pthread_mutex_unlock(&wake_lock);
    bool ok = fetch_keys();
    pthread_mutex_lock(&wake_lock);
    last_fetch = time(NULL);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ok ? g_cfg.refresh_s : 1;
    wake_requested = false;
    while (!stopping && !wake_requested && pthread_cond_timedwait(&wake, &wake_lock, &until) == 0) {
    }
  }
  pthread_mutex_unlock(&wake_lock);
  return NULL;
}

void edge_auth_start(const edge_auth_config *cfg) {
  g_cfg = *cfg;
  if (g_cfg.refresh_s <= 0) g_cfg.refresh_s = 300;
  started = pthread_create(&refresher, NULL, refresh_main, NULL) == 0;
}

void edge_auth_stop(void) {
  pthread_mutex_lock(&wake_lock);
  stopping = true;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&wake_lock);
  if (started) pthread_join(refresher, NULL);
  pthread_rwlock_wrlock(&keys_lock);
  for (int i = 0; i < n_keys; i++) jwt_key_free(keys[i]);
  n_keys = 0;
  pthread_rwlock_unlock(&keys_lock);
}

bool edge_auth_ready(void) {
  pthread_rwlock_rdlock(&keys_lock);
  bool r = loaded;
  pthread_rwlock_unlock(&keys_lock);
  return r;
}

static void request_early_refresh(void) {
  pthread_mutex_lock(&wake_lock);
  if (time(NULL) - last_fetch >= MIN_EARLY_REFRESH_S) {
    wake_requested = true;
    pthread_cond_broadcast(&wake);
  }
  pthread_mutex_unlock(&wake_lock);
}

edge_auth_result edge_auth_check(arena *a, const char *authorization, rpc_identity *who, const char **identity,
                                 const char **identity_sig, const char **why) {
  if (!authorization) return EDGE_AUTH_NONE;
  if (strncasecmp(authorization, "Bearer ", 7) != 0) {
    *why = "the Authorization header must be \"Bearer <token>\"";
    return EDGE_AUTH_INVALID;
  }
  const char *token = authorization + 7;
  while (*token == ' ') token++;
  jwt_claims c;
  pthread_rwlock_rdlock(&keys_lock);
  jwt_result r = jwt_verify(token, keys, n_keys, g_cfg.issuer, g_cfg.audience, time(NULL), LEEWAY_S, &c);
  pthread_rwlock_unlock(&keys_lock);
  if (r == JWT_UNKNOWN_KID) request_early_refresh();
  if (r != JWT_OK) {
    *why = r == JWT_EXPIRED ? "the access token has expired" : "the access token is invalid";
    return EDGE_AUTH_INVALID;
  }
  memset(who, 0, sizeof *who);
  who->user_id = arena_strdup(a, c.sub);
  const char *roles[RPC_MAX_ROLES];
  for (int i = 0; i < c.n_roles && i < RPC_MAX_ROLES; i++) {
    roles[i] = who->roles[i] = arena_strdup(a, c.roles[i]);
    who->n_roles++;
  }
  if (!identity_sign(a, g_cfg.identity_secret, who->user_id, roles, who->n_roles, c.exp, identity, identity_sig)) {
    *why = "the access token carries claims the gateway cannot forward";
    return EDGE_AUTH_INVALID;
  }
  return EDGE_AUTH_OK;
}
