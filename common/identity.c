/* The gateway-signed caller identity ("<user_id>;<role,role>;<expiry>") and client address
 * ("<ip>;<expiry>"), each with an HMAC-SHA256 signature in base64url; and the peer address of
 * a direct caller. Signing refuses what cannot be encoded; verifying trusts nothing. */
#include "common/identity.h"

#include <arpa/inet.h>
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

/* ---- the client address ---- */

#define CLIENT_IP_MAC_PREFIX "client-ip:"
#define CLIENT_IP_MAX_VALUE (CLIENT_IP_MAX + 1 + IDENTITY_MAX_EXPIRY_DIGITS)

bool client_ip_canonical(const char *text, size_t n, char out[CLIENT_IP_MAX + 1]) {
  if (!text || n == 0 || n > CLIENT_IP_MAX || memchr(text, '\0', n)) return false;
  char buf[CLIENT_IP_MAX + 1];
  memcpy(buf, text, n);
  buf[n] = '\0';
  unsigned char addr[16];
  if (inet_pton(AF_INET, buf, addr) == 1) return inet_ntop(AF_INET, addr, out, CLIENT_IP_MAX + 1) != NULL;
  if (inet_pton(AF_INET6, buf, addr) != 1) return false;
  static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(addr, v4_mapped, sizeof v4_mapped) == 0)
    return inet_ntop(AF_INET, addr + 12, out, CLIENT_IP_MAX + 1) != NULL;
  return inet_ntop(AF_INET6, addr, out, CLIENT_IP_MAX + 1) != NULL;
}

/* base64url(HMAC-SHA256(secret, "client-ip:" + value)) into sig[IDENTITY_SIG_CHARS + 1]. */
static void client_ip_mac(const char *secret, const char *value, size_t n, char *sig) {
  char msg[sizeof CLIENT_IP_MAC_PREFIX + CLIENT_IP_MAX_VALUE];
  size_t p = strlen(CLIENT_IP_MAC_PREFIX);
  memcpy(msg, CLIENT_IP_MAC_PREFIX, p);
  memcpy(msg + p, value, n); /* n <= CLIENT_IP_MAX_VALUE: the callers check */
  identity_mac(secret, msg, p + n, sig);
}

bool client_ip_sign(arena *a, const char *secret, const char *ip, int64_t expires_unix, const char **value,
                    const char **sig) {
  *value = *sig = NULL;
  char canon[CLIENT_IP_MAX + 1];
  if (!secret || !*secret || !ip || expires_unix < 0 ||
      expires_unix > 999999999999999999LL /* verifying reads at most 18 digits */ ||
      !client_ip_canonical(ip, strnlen(ip, CLIENT_IP_MAX + 1), canon))
    return false;
  char *v = arena_printf(a, "%s;%lld", canon, (long long)expires_unix);
  size_t len = strlen(v);
  char *s = arena_alloc(a, IDENTITY_SIG_CHARS + 1);
  client_ip_mac(secret, v, len, s);
  *value = v;
  *sig = s;
  return true;
}

bool client_ip_verify(arena *a, const char *secret, const char *value, const char *sig, int64_t now_unix,
                      const char **ip) {
  *ip = NULL;
  if (!secret || !*secret || !value || !sig) return false;
  size_t len = strnlen(value, CLIENT_IP_MAX_VALUE + 1);
  if (len > CLIENT_IP_MAX_VALUE || strnlen(sig, IDENTITY_SIG_CHARS + 1) != IDENTITY_SIG_CHARS) return false;
  char expected[IDENTITY_SIG_CHARS + 1];
  client_ip_mac(secret, value, len, expected);
  if (!crypto_ct_streq(sig, expected)) return false;
  const char *semi = memchr(value, ';', len);
  int64_t expiry;
  char canon[CLIENT_IP_MAX + 1];
  if (!semi || !parse_expiry(semi + 1, (size_t)(value + len - semi - 1), &expiry) || now_unix >= expiry ||
      !client_ip_canonical(value, (size_t)(semi - value), canon))
    return false;
  *ip = arena_strdup(a, canon);
  return true;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Copies src into dst (at most cap - 1 bytes), decoding %XX escapes; false when it does not fit
 * or an escape is malformed. */
static bool percent_decode(const char *src, char *dst, size_t cap) {
  size_t n = 0;
  for (const char *p = src; *p; p++) {
    if (n + 1 >= cap) return false;
    if (*p != '%') {
      dst[n++] = *p;
      continue;
    }
    int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
    if (lo < 0 || (hi | lo) == 0) return false;
    dst[n++] = (char)(hi << 4 | lo);
    p += 2;
  }
  dst[n] = '\0';
  return true;
}

const char *client_ip_from_peer(arena *a, const char *peer) {
  if (!peer) return "unknown";
  if (strncmp(peer, "unix:", 5) == 0 || strncmp(peer, "unix-abstract:", 14) == 0) return "unix";
  char buf[128];
  char canon[CLIENT_IP_MAX + 1];
  if (strncmp(peer, "ipv4:", 5) == 0 && percent_decode(peer + 5, buf, sizeof buf)) {
    char *colon = strrchr(buf, ':'); /* "a.b.c.d:port" */
    if (colon && client_ip_canonical(buf, (size_t)(colon - buf), canon)) return arena_strdup(a, canon);
  } else if (strncmp(peer, "ipv6:", 5) == 0 && percent_decode(peer + 5, buf, sizeof buf) && buf[0] == '[') {
    char *close = strchr(buf, ']'); /* "[addr%zone]:port" */
    char *zone = close ? memchr(buf, '%', (size_t)(close - buf)) : NULL;
    char *end = zone ? zone : close;
    if (end && client_ip_canonical(buf + 1, (size_t)(end - buf - 1), canon)) return arena_strdup(a, canon);
  }
  return "unknown";
}
