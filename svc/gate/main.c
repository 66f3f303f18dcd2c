/* metro-gate-verify: the offline gate check of a presented QR code against the published keys
 * (gatekit.h), a single-thread benchmark of it, and token signing for tests and demos. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "svc/gate/gatekit.h"

#define MAX_FILE (1 << 20)

static const char USAGE[] =
    "usage: metro-gate-verify --keys JWKS [--now UNIX] CODE|-\n"
    "       metro-gate-verify --bench --keys JWKS [--seconds N] CODE|-\n"
    "       metro-gate-verify --sign --key PEM --kid KID --payload JSON [--secret HEX64] [--now UNIX]\n"
    "       metro-gate-verify --jwks --key PEM --kid KID\n"
    "Verify: exit 0 and the decoded code as JSON when valid (a rotating code also needs its\n"
    "counter within +-1 step of now); exit 1 and the reason when refused; exit 2 on usage errors.\n";

static int usage(const char *why) {
  if (why) fprintf(stderr, "metro-gate-verify: %s\n", why);
  fputs(USAGE, stderr);
  return 2;
}

/* Reads a whole file (at most MAX_FILE bytes); NULL when unreadable or too big. The caller frees. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(MAX_FILE + 1);
  size_t n = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
  fclose(f);
  if (!buf || n > MAX_FILE) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static bool parse_i64(const char *s, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

/* The presented code: the argument, or one line of stdin for "-" (without its line ending).
 * Input longer than a token is kept one byte too long so gk_verify refuses it as malformed. */
static size_t read_code(const char *arg, char *buf, size_t cap) {
  if (strcmp(arg, "-") != 0) {
    size_t n = strnlen(arg, cap);
    memcpy(buf, arg, n);
    return n;
  }
  size_t n = fread(buf, 1, cap, stdin);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
  return n;
}

static int load_keys(const char *path, gk_keyring *ring) {
  size_t len = 0;
  char *json = slurp(path, &len);
  char err[256] = "";
  gk_keyring_init(ring);
  if (!json) {
    fprintf(stderr, "metro-gate-verify: cannot read %s\n", path);
    return 2;
  }
  bool ok = gk_keyring_load_jwks(ring, json, len, err, sizeof err);
  free(json);
  if (!ok) {
    fprintf(stderr, "metro-gate-verify: %s: %s\n", path, err);
    return 2;
  }
  return 0;
}

static int load_private(const char *path, const char *kid, gk_keyring *ring) {
  size_t len = 0;
  char *pem = slurp(path, &len);
  char err[256] = "unreadable";
  gk_keyring_init(ring);
  bool ok = pem && gk_keyring_add_private_pem(ring, kid, pem, true, err, sizeof err);
  if (pem) OPENSSL_cleanse(pem, len);
  free(pem);
  if (!ok) {
    fprintf(stderr, "metro-gate-verify: %s: %s\n", path, err);
    return 2;
  }
  return 0;
}

static void print_payload_json(const gk_presented *p, bool in_window) {
  json_t *pl = json_object(), *o = json_object();
  json_object_set_new(pl, "tid", json_string(p->payload.tid));
  json_object_set_new(pl, "typ", json_string(p->payload.typ));
  json_object_set_new(pl, "pax", json_integer(p->payload.pax));
  if (p->payload.o[0]) json_object_set_new(pl, "o", json_string(p->payload.o));
  if (p->payload.d[0]) json_object_set_new(pl, "d", json_string(p->payload.d));
  json_object_set_new(pl, "iat", json_integer((json_int_t)p->payload.iat));
  json_object_set_new(o, "payload", pl);
  json_object_set_new(o, "kid", json_string(p->kid));
  json_object_set_new(o, "rotating", json_boolean(p->rotating));
  json_object_set_new(o, "counter", p->rotating ? json_integer((json_int_t)p->counter) : json_null());
  json_object_set_new(o, "counterInWindow", p->rotating ? json_boolean(in_window) : json_null());
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (s) puts(s);
  free(s);
  json_decref(o);
}

static int verify(const gk_keyring *ring, const char *code, size_t len, long long now) {
  gk_presented p;
  gk_result r = gk_verify(ring, code, len, &p);
  if (r != GK_OK) {
    puts(gk_result_name(r));
    return 1;
  }
  bool in_window = !p.rotating || gk_counter_in_window(p.counter, gk_counter_at(now));
  if (!in_window) {
    puts("COUNTER_OUT_OF_WINDOW");
    return 1;
  }
  print_payload_json(&p, in_window);
  return 0;
}

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(const gk_keyring *ring, const char *code, size_t len, long long seconds) {
  gk_presented p;
  gk_result first = gk_verify(ring, code, len, &p);
  double t0 = mono(), t = t0, end = t0 + (double)seconds;
  unsigned long long n = 0;
  while (t < end) {
    for (int i = 0; i < 64; i++) (void)gk_verify(ring, code, len, &p);
    n += 64;
    t = mono();
  }
  printf("{\"result\":\"%s\",\"verifications\":%llu,\"seconds\":%.3f,\"perSecond\":%.0f,\"usPerVerification\":%.2f}\n",
         gk_result_name(first), n, t - t0, (double)n / (t - t0), (t - t0) * 1e6 / (double)n);
  return first == GK_OK ? 0 : 1;
}

static bool copy_str(json_t *obj, const char *key, char *dst, size_t cap, bool required) {
  json_t *v = json_object_get(obj, key);
  if (!v) return !required;
  if (!json_is_string(v) || json_string_length(v) >= cap) return false;
  memcpy(dst, json_string_value(v), json_string_length(v) + 1);
  return true;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int sign(const char *key, const char *kid, const char *payload, const char *secret_hex, long long now) {
  gk_keyring ring;
  int rc = load_private(key, kid, &ring);
  if (rc) return rc;
  gk_payload p;
  memset(&p, 0, sizeof p);
  json_error_t je;
  json_t *root = json_loads(payload, JSON_REJECT_DUPLICATES, &je);
  json_t *pax = json_object_get(root, "pax"), *iat = json_object_get(root, "iat");
  bool ok = json_is_object(root) && copy_str(root, "tid", p.tid, sizeof p.tid, true) &&
            copy_str(root, "typ", p.typ, sizeof p.typ, true) && copy_str(root, "o", p.o, sizeof p.o, false) &&
            copy_str(root, "d", p.d, sizeof p.d, false) && json_is_integer(pax) && (!iat || json_is_integer(iat));
  if (ok) {
    json_int_t n = json_integer_value(pax);
    p.pax = n >= 0 && n <= 1000 ? (int)n : -1;
    p.iat = iat ? (int64_t)json_integer_value(iat) : (int64_t)now;
  }
  json_decref(root);
  uint8_t secret[GK_SECRET_LEN];
  if (secret_hex) {
    ok = ok && strlen(secret_hex) == 2 * GK_SECRET_LEN;
    for (int i = 0; ok && i < GK_SECRET_LEN; i++) {
      int hi = hexval(secret_hex[2 * i]), lo = hexval(secret_hex[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      secret[i] = (uint8_t)(hi << 4 | lo);
    }
  }
  if (!ok) {
    OPENSSL_cleanse(&ring, sizeof ring);
    return usage("--payload needs {tid, typ, pax, [o, d,] [iat]}; --secret 64 hex digits");
  }
  char token[GK_MAX_TOKEN_LEN + 1], rot[GK_MAX_TOKEN_LEN + 1];
  ok = gk_token_sign(&ring, &p, token, sizeof token);
  OPENSSL_cleanse(&ring, sizeof ring);
  if (!ok) {
    fprintf(stderr, "metro-gate-verify: cannot sign (the payload breaks the token rules)\n");
    return 1;
  }
  if (secret_hex) {
    ok = gk_rotating_format(token, secret, gk_counter_at(now), rot, sizeof rot);
    OPENSSL_cleanse(secret, sizeof secret);
    if (!ok) return 1;
    puts(rot);
  } else {
    puts(token);
  }
  return 0;
}

static int jwks(const char *key, const char *kid) {
  gk_keyring ring;
  int rc = load_private(key, kid, &ring);
  if (rc) return rc;
  char *s = gk_keyring_jwks(&ring);
  OPENSSL_cleanse(&ring, sizeof ring);
  if (!s) return 1;
  puts(s);
  free(s);
  return 0;
}

int main(int argc, char **argv) {
  enum { VERIFY, BENCH, SIGN, JWKS } mode = VERIFY;
  const char *keys = NULL, *key = NULL, *kid = NULL, *payload = NULL, *secret = NULL, *code = NULL;
  long long now = (long long)time(NULL), seconds = 3;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(a, "--bench") == 0) mode = BENCH;
    else if (strcmp(a, "--sign") == 0) mode = SIGN;
    else if (strcmp(a, "--jwks") == 0) mode = JWKS;
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(USAGE, stdout);
      return 0;
    } else if (strcmp(a, "--keys") == 0 && has_value) keys = argv[++i];
    else if (strcmp(a, "--key") == 0 && has_value) key = argv[++i];
    else if (strcmp(a, "--kid") == 0 && has_value) kid = argv[++i];
    else if (strcmp(a, "--payload") == 0 && has_value) payload = argv[++i];
    else if (strcmp(a, "--secret") == 0 && has_value) secret = argv[++i];
    else if (strcmp(a, "--now") == 0 && has_value) {
      if (!parse_i64(argv[++i], 0, 253402300799LL, &now)) return usage("--now takes unix seconds");
    } else if (strcmp(a, "--seconds") == 0 && has_value) {
      if (!parse_i64(argv[++i], 1, 3600, &seconds)) return usage("--seconds takes 1-3600");
    } else if ((a[0] != '-' || strcmp(a, "-") == 0) && !code) code = a;
    else return usage(a[0] == '-' ? "unknown option or missing value" : "more than one CODE");
  }
  if (mode == SIGN) {
    if (!key || !kid || !payload || code) return usage("--sign needs --key, --kid and --payload");
    return sign(key, kid, payload, secret, now);
  }
  if (mode == JWKS) {
    if (!key || !kid || code) return usage("--jwks needs --key and --kid");
    return jwks(key, kid);
  }
  if (!keys || !code) return usage("--keys and CODE are required");
  gk_keyring ring;
  int rc = load_keys(keys, &ring);
  if (rc) return rc;
  char buf[GK_MAX_TOKEN_LEN + 2];
  size_t len = read_code(code, buf, sizeof buf);
  return mode == BENCH ? bench(&ring, buf, len, seconds) : verify(&ring, buf, len, now);
}
