/* metro-auth: reads its settings, loads the token-signing key, bootstraps the first
 * admin, and serves metro.auth.v1.AuthService through the shared service runtime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/password.h"
#include "common/service.h"
#include "svc/auth/auth.h"

extern const pg_migration *const auth_migrations;

static auth_state state;
static char *admin_email, *admin_password, *admin_username;
static char *key_pem, *key_file, *key_kid, *previous_key_files;

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(65536);
  *len = fread(buf, 1, 65535, f);
  fclose(f);
  buf[*len] = '\0';
  return buf;
}

static jwt_key *load_key(const char *pem, const char *path, const char *kid) {
  size_t len = pem ? strlen(pem) : 0;
  char *file = NULL;
  if (!len && path && *path) file = read_file(path, &len);
  jwt_key *k = (pem && *pem) || file ? jwt_key_from_private_pem(file ? file : pem, len, kid) : NULL;
  free(file);
  return k;
}

static bool auth_init(void *st, const service_settings *common) {
  (void)common;
  auth_state *s = st;
  s->signing_key = load_key(key_pem, key_file, key_kid);
  if (!s->signing_key) {
    log_error("no usable Ed25519 signing key: set METRO_JWT_PRIVATE_KEY or METRO_JWT_PRIVATE_KEY_FILE (PKCS#8 PEM)");
    return false;
  }
  s->public_keys[s->n_public_keys++] = s->signing_key;
  /* Retired keys stay published (JWKS) until the tokens they signed have expired:
   * "kid=path,kid=path". */
  char *list = previous_key_files && *previous_key_files ? strdup(previous_key_files) : NULL, *save = NULL;
  for (char *item = list ? strtok_r(list, ",", &save) : NULL; item && s->n_public_keys < 4;
       item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    jwt_key *k = eq ? (*eq = '\0', load_key(NULL, eq + 1, item)) : NULL;
    if (!k) {
      log_error("METRO_JWT_PREVIOUS_KEY_FILES: cannot load \"%s\"", item);
      free(list);
      return false;
    }
    s->public_keys[s->n_public_keys++] = k;
  }
  free(list);
  auth_jwks_build(s);
  char dummy[PASSWORD_HASH_MAX];
  if (!password_hash("not-a-real-password", (int)s->settings.scrypt_ln, (int)s->settings.scrypt_r,
                     (int)s->settings.scrypt_p, dummy, sizeof dummy)) {
    log_error("scrypt parameters rejected (METRO_SCRYPT_LN/R/P)");
    return false;
  }
  s->dummy_hash = strdup(dummy);
  if (admin_email && *admin_email && admin_password && *admin_password)
    return auth_bootstrap_admin(s, admin_email, admin_password, admin_username);
  log_warn("METRO_ADMIN_EMAIL and METRO_ADMIN_PASSWORD are not set: no admin is bootstrapped");
  return true;
}

int main(void) {
  auth_settings *a = &state.settings;
  const cfg_setting settings[] = {
      {"METRO_JWT_PRIVATE_KEY", CFG_SECRET, "", false, 0, 0, &key_pem, "Ed25519 PKCS#8 PEM"},
      {"METRO_JWT_PRIVATE_KEY_FILE", CFG_STRING, "", false, 0, 0, &key_file, "file holding the PEM"},
      {"METRO_JWT_KID", CFG_STRING, "metro-1", false, 0, 0, &key_kid, "key id of the signing key"},
      {"METRO_JWT_PREVIOUS_KEY_FILES", CFG_STRING, "", false, 0, 0, &previous_key_files,
       "retired keys still published: kid=path,kid=path"},
      {"METRO_JWT_ISSUER", CFG_STRING, "metro-auth", false, 0, 0, &a->issuer, "iss of access tokens"},
      {"METRO_JWT_AUDIENCE", CFG_STRING, "metro", false, 0, 0, &a->audience, "aud of access tokens"},
      {"METRO_ACCESS_TOKEN_TTL_S", CFG_INT, "900", false, 60, 86400, &a->access_ttl_s, "access token lifetime"},
      {"METRO_REFRESH_TOKEN_TTL_S", CFG_INT, "604800", false, 300, 7776000, &a->refresh_ttl_s, "refresh lifetime"},
      {"METRO_VERIFY_TOKEN_TTL_S", CFG_INT, "86400", false, 60, 604800, &a->verify_ttl_s, "verification link"},
      {"METRO_RESET_TOKEN_TTL_S", CFG_INT, "600", false, 60, 86400, &a->reset_ttl_s, "reset link"},
      {"METRO_LOCKOUT_FAILURES", CFG_INT, "5", false, 1, 100, &a->lockout_failures, "failures that lock"},
      {"METRO_LOCKOUT_S", CFG_INT, "7200", false, 1, 604800, &a->lockout_s, "lock length"},
      {"METRO_SCRYPT_LN", CFG_INT, "15", false, 10, 20, &a->scrypt_ln, "scrypt log2(N)"},
      {"METRO_SCRYPT_R", CFG_INT, "8", false, 1, 32, &a->scrypt_r, "scrypt r"},
      {"METRO_SCRYPT_P", CFG_INT, "1", false, 1, 16, &a->scrypt_p, "scrypt p"},
      {"METRO_AUTH_RATE_LIMIT_PER_MINUTE", CFG_INT, "60", false, 0, 1000000, &a->rate_limit_per_minute,
       "attempts per client IP and action per minute (0 = off)"},
      {"METRO_FRONTEND_URL", CFG_STRING, "http://localhost:3000", false, 0, 0, &a->frontend_url,
       "base of links in emails"},
      {"METRO_ADMIN_EMAIL", CFG_STRING, "", false, 0, 0, &admin_email, "bootstrap admin email"},
      {"METRO_ADMIN_PASSWORD", CFG_SECRET, "", false, 0, 0, &admin_password, "bootstrap admin password"},
      {"METRO_ADMIN_USERNAME", CFG_STRING, "admin", false, 0, 0, &admin_username, "bootstrap admin username"},
  };
  /* passenger.deleted, staff.deleted, staff.deactivated/reactivated from the user service. */
  const ev_consumer_config consumer = {
      .group = "auth", .subs = auth_subscriptions, .n_subs = auth_n_subscriptions, .state = &state};
  service_def def = {
      .name = "auth",
      .default_grpc_addr = "127.0.0.1:50051",
      .default_metrics_port = 9101,
      .migrations = auth_migrations,
      .services = &auth_service_impl,
      .n_services = 1,
      .settings = settings,
      .n_settings = (int)(sizeof settings / sizeof settings[0]),
      .init = auth_init,
      .state = &state,
      .produces_events = true,
      .consumers = &consumer,
      .n_consumers = 1,
  };
  return service_run(&def);
}
