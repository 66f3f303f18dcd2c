/* The gate kit: signed QR tokens (domain spec §11) as a gate vendor embeds them. It signs and
 * verifies static tokens MT1.<kid>.<payload>.<sig> (Ed25519), computes and checks rotating
 * codes <token>.<counter>.<code> (HMAC-SHA256, RFC 4226 truncation), and loads the published
 * keys. Depends on libcrypto and jansson only; the ticket service uses this same code. */
#ifndef METRO_GATEKIT_H
#define METRO_GATEKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GK_MAX_TOKEN_LEN 1024     /* a longer token (static or rotating) is malformed */
#define GK_MAX_KEYS 16
#define GK_MAX_KID_LEN 32         /* kid: 1-32 of [A-Za-z0-9_-] */
#define GK_STEP_S 30              /* rotating counter = floor(unix / 30) */
#define GK_SECRET_LEN 32          /* per-ticket rotation secret */
#define GK_CODE_DIGITS 6

/* The signed payload: JSON {tid, typ, pax, o, d, iat} in this member order; o and d only on
 * single and return tickets (empty strings here when absent). */
typedef struct gk_payload {
  char tid[37];                   /* ticket id (UUID) */
  char typ[16];                   /* oneway, return, day_pass, ... */
  int pax;                        /* total passengers, 1-100 */
  char o[65], d[65];              /* origin / destination station ids, or "" */
  int64_t iat;                    /* issued at, unix seconds */
} gk_payload;

typedef struct gk_key {
  char kid[GK_MAX_KID_LEN + 1];
  uint8_t pub[32];                /* Ed25519 public key */
  bool has_private;
  uint8_t priv[32];               /* Ed25519 private key (seed), when has_private */
} gk_key;

typedef struct gk_keyring {
  gk_key keys[GK_MAX_KEYS];
  int n;
  int signing;                    /* index of the key new tokens use; -1 = none */
} gk_keyring;

void gk_keyring_init(gk_keyring *r);
/* Adds a key from an Ed25519 PKCS#8 PEM private key (openssl genpkey -algorithm ed25519);
 * `signing` makes it the key new tokens use. False with a message on a bad PEM or kid, a
 * duplicate kid or a full ring. */
bool gk_keyring_add_private_pem(gk_keyring *r, const char *kid, const char *pem, bool signing, char *err,
                                size_t errlen);
bool gk_keyring_add_public(gk_keyring *r, const char *kid, const uint8_t pub[32], char *err, size_t errlen);
/* Loads {"keys":[{"kty":"OKP","crv":"Ed25519","kid":"...","x":"<base64url>"}, ...]} (what
 * GET /v1/gates/keys publishes); entries of other kinds are refused. */
bool gk_keyring_load_jwks(gk_keyring *r, const char *json, size_t len, char *err, size_t errlen);
const gk_key *gk_keyring_find(const gk_keyring *r, const char *kid, size_t kid_len);
/* The ring's public keys as that JSON (malloc'ed; the caller frees). */
char *gk_keyring_jwks(const gk_keyring *r);

/* MT1.<kid>.<base64url payload>.<base64url signature>, the signature being Ed25519 over
 * "MT1.<kid>.<payload>", with the ring's signing key. False when it has none or out is short. */
bool gk_token_sign(const gk_keyring *r, const gk_payload *p, char *out, size_t cap);

typedef enum gk_result {
  GK_OK,
  GK_MALFORMED,       /* not MT1.<kid>.<payload>.<sig>[.<counter>.<code>], too long, not ASCII, bad base64url */
  GK_UNKNOWN_KID,     /* no key with that kid (another environment's key, or retired and removed) */
  GK_BAD_SIGNATURE,
  GK_BAD_PAYLOAD,     /* signed, but the JSON is not a payload this kit issues */
} gk_result;

const char *gk_result_name(gk_result r);

/* A presented code: a static token, or a rotating one (token + counter + 6-digit code). */
typedef struct gk_presented {
  gk_payload payload;
  char kid[GK_MAX_KID_LEN + 1];
  bool rotating;
  int64_t counter;                /* rotating only */
  char code[GK_CODE_DIGITS + 1];  /* rotating only */
  size_t token_len;               /* length of the static-token part */
} gk_presented;

/* Parses and verifies s (len bytes, need not be NUL-terminated): format, kid, signature and
 * payload. The rotating code itself needs the per-ticket secret (gk_code_check). */
gk_result gk_verify(const gk_keyring *r, const char *s, size_t len, gk_presented *out);

/* RFC 4226 dynamic truncation of HMAC-SHA256(secret, counter as 8-byte big-endian) to 6 digits. */
uint32_t gk_hotp_sha256(const uint8_t *secret, size_t secret_len, uint64_t counter);
int64_t gk_counter_at(int64_t unix_s);

typedef enum gk_code_result {
  GK_CODE_OK,
  GK_CODE_INVALID,    /* wrong digits, or the counter outside now +-1 step */
  GK_CODE_REPLAYED,   /* right code, but its counter is not above the last one used */
} gk_code_result;

/* The §11.2 rule: |counter - now_counter| <= 1, the code matches (constant-time compare), and
 * counter > last_counter. */
gk_code_result gk_code_check(const uint8_t secret[GK_SECRET_LEN], int64_t counter, const char *code,
                             int64_t now_counter, int64_t last_counter);
/* Offline (a gate without the secret): format and counter window only. */
bool gk_counter_in_window(int64_t counter, int64_t now_counter);
/* "<token>.<counter>.<code>" for the counter; false when out is short. */
bool gk_rotating_format(const char *token, const uint8_t secret[GK_SECRET_LEN], int64_t counter, char *out,
                        size_t cap);

#endif
