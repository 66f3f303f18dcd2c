/* The gateway-signed caller identity: "<user_id>;<role,role>;<expiry>" with an HMAC-SHA256
 * signature in base64url. Signing refuses what cannot be encoded; verifying trusts nothing. */
#include "common/identity.h"

#include <string.h>

#include "common/b64.h"
#include "common/crypto.h"

#define IDENTITY_MAX_VALUE 1024
#define IDENTITY_SIG_CHARS 43 /* base64url of 32 bytes, no padding */
#define IDENTITY_MAX_EXPIRY_DIGITS 18 /* keeps the value inside int64_t */

/* base64url(HMAC-SHA256(secret, value)) into sig[IDENTITY_SIG_CHARS + 1]. */
static void identity_mac(const char *secret, const char *value, size_t n, char *sig) {
  uint8_t mac[CRYPTO_SHA256_LEN];
  crypto_hmac_sha256(secret, strlen(secret), value, n, mac);
  b64_encode(B64_URL_NOPAD, mac, sizeof mac, sig, IDENTITY_SIG_CHARS + 1);
}

/* A user id or role that the format can carry: non-empty, printable ASCII, no ';' or ','. */
static bool field_ok(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ';' || s[i] == ',') return false;
  return true;
}

bool identity_sign(arena *a, const char *secret, const char *user_id, const char *const *roles,
                   int n_roles, int64_t expires_unix, const char **value, const char **sig) {
  *value = *sig = NULL;
  if (!secret || !*secret || !user_id || !field_ok(user_id, strlen(user_id)) || n_roles < 0 ||
      n_roles > RPC_MAX_ROLES || (n_roles > 0 && !roles) || expires_unix < 0)
    return false;
  char buf[IDENTITY_MAX_VALUE + 1];
  size_t len = strnlen(user_id, sizeof buf);
  if (len + 1 >= sizeof buf) return false;
  memcpy(buf, user_id, len);
  buf[len++] = ';';
  for (int i = 0; i < n_roles; i++) {
    size_t rl = roles[i] ? strnlen(roles[i], sizeof buf) : 0;
    if (!field_ok(roles[i], rl) || len + rl + 1 >= sizeof buf) return false;
    if (i > 0) buf[len++] = ',';
    memcpy(buf + len, roles[i], rl);
    len += rl;
  }
  char *v = arena_printf(a, "%.*s;%lld", (int)len, buf, (long long)expires_unix);
  if (strlen(v) > IDENTITY_MAX_VALUE) return false;
  char *s = arena_alloc(a, IDENTITY_SIG_CHARS + 1);
  identity_mac(secret, v, strlen(v), s);
  *value = v;
  *sig = s;
  return true;
}

/* Parses a decimal expiry of 1..18 digits (no sign, no spaces). */
static bool parse_expiry(const char *s, size_t n, int64_t *out) {
  if (n == 0 || n > IDENTITY_MAX_EXPIRY_DIGITS) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

/* Splits "a,b,c" (n bytes) into arena copies; an empty list means no roles. */
static bool parse_roles(arena *a, const char *s, size_t n, rpc_identity *id) {
  if (n == 0) return true;
  const char *end = s + n;
  while (true) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *stop = comma ? comma : end;
    if (id->n_roles >= RPC_MAX_ROLES || !field_ok(s, (size_t)(stop - s))) return false;
    id->roles[id->n_roles++] = arena_strndup(a, s, (size_t)(stop - s));
    if (!comma) return true;
    s = comma + 1;
  }
}

static bool parse_value(arena *a, const char *value, size_t len, int64_t now_unix,
                        rpc_identity *id) {
  const char *end = value + len;
  const char *semi1 = memchr(value, ';', len);
  const char *semi2 = semi1 ? memchr(semi1 + 1, ';', (size_t)(end - semi1 - 1)) : NULL;
  if (!semi2 || memchr(semi2 + 1, ';', (size_t)(end - semi2 - 1))) return false;
  int64_t expiry;
  size_t uid_len = (size_t)(semi1 - value);
  if (!field_ok(value, uid_len) ||
      !parse_expiry(semi2 + 1, (size_t)(end - semi2 - 1), &expiry) || now_unix >= expiry)
    return false;
  id->user_id = arena_strndup(a, value, uid_len);
  return parse_roles(a, semi1 + 1, (size_t)(semi2 - semi1 - 1), id);
}

bool identity_verify(arena *a, const char *secret, const char *value, const char *sig,
                     int64_t now_unix, rpc_identity *out) {
  rpc_identity id;
  memset(&id, 0, sizeof id);
  memset(out, 0, sizeof *out);
  if (!secret || !*secret || !value || !sig) return false;
  size_t len = strnlen(value, IDENTITY_MAX_VALUE + 1);
  if (len > IDENTITY_MAX_VALUE || strnlen(sig, IDENTITY_SIG_CHARS + 1) != IDENTITY_SIG_CHARS)
    return false;
  char expected[IDENTITY_SIG_CHARS + 1];
  identity_mac(secret, value, len, expected);
  if (!crypto_ct_streq(sig, expected) || !parse_value(a, value, len, now_unix, &id)) return false;
  *out = id;
  return true;
}
