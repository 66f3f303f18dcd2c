/* JSON Web Tokens signed with EdDSA (Ed25519), compact JWS form: the access tokens of the
 * domain spec §1.2. Keys carry their kid; verification pins the algorithm and checks time. */
#ifndef METRO_JWT_H
#define METRO_JWT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_TOKEN 8192 /* longer tokens are refused unread */
#define JWT_MAX_ROLES 8
#define JWT_KID_MAX 63     /* kid: 1-63 of [A-Za-z0-9._:-] */

/* An Ed25519 key with its kid; the private half is optional (verification-only keys). */
typedef struct jwt_key jwt_key;

/* A fresh key pair; NULL when kid is invalid. */
jwt_key *jwt_key_generate(const char *kid);
/* A key pair from a PKCS#8 PEM ("BEGIN PRIVATE KEY") Ed25519 key; NULL for anything else,
 * including encrypted PEM (never prompts). */
jwt_key *jwt_key_from_private_pem(const char *pem, size_t len, const char *kid);
/* The private key as PKCS#8 PEM, malloc'd; NULL when the key has no private half. */
char *jwt_key_private_pem(const jwt_key *k);
/* A verification key from a public JWK {kty:"OKP", crv:"Ed25519", x, kid} (alg "EdDSA" and
 * use "sig" allowed). NULL for other key types, curves, a bad x, a bad kid or a private "d". */
jwt_key *jwt_key_from_jwk(const json_t *jwk);
/* The public JWK {kty, crv, x, kid, alg:"EdDSA", use:"sig"}; the caller owns the reference. */
json_t *jwt_key_public_jwk(const jwt_key *k);
const char *jwt_key_kid(const jwt_key *k);
bool jwt_key_has_private(const jwt_key *k);
void jwt_key_free(jwt_key *k);

/* Registered and Metro claims. Empty strings and zero times are left out of a signed token;
 * exp is always written. Every string is NUL-terminated within its field. */
typedef struct jwt_claims {
  char sub[64];
  char fid[64];  /* refresh-token family */
  char jti[64];
  char iss[128];
  char aud[128]; /* on verify: the expected audience when one was given, else the first */
  char roles[JWT_MAX_ROLES][32];
  int n_roles;
  int64_t iat, nbf, exp;
} jwt_claims;

/* The signed token "<header>.<payload>.<sig>" with header {alg:"EdDSA", typ:"JWT", kid},
 * malloc'd; NULL when the key has no private half or the claims are out of bounds. */
char *jwt_sign(const jwt_key *k, const jwt_claims *c);

typedef enum jwt_result {
  JWT_OK,
  JWT_MALFORMED,        /* not three base64url segments of JSON objects, or bad claim types */
  JWT_BAD_ALGORITHM,    /* alg other than EdDSA, or missing */
  JWT_UNKNOWN_KID,      /* no kid, or none of the keys has it */
  JWT_BAD_SIGNATURE,
  JWT_EXPIRED,
  JWT_NOT_YET_VALID,
  JWT_BAD_ISSUER,
  JWT_BAD_AUDIENCE,
} jwt_result;

/* "JWT_OK", "JWT_MALFORMED"... ; "JWT_UNKNOWN" for values outside the enum. */
const char *jwt_result_name(jwt_result r);

/* Verifies token against the key among keys whose kid the header names: the algorithm is
 * pinned to EdDSA, the signature is checked before the claims are read, exp is required,
 * now must lie in [nbf - leeway, exp + leeway) (leeway clamped to 0..3600 s), and iss / aud
 * must match when expect_iss / expect_aud are non-NULL (aud may be a string or an array).
 * Claims of the wrong type, or too long for jwt_claims, make the token JWT_MALFORMED.
 * out (optional) is filled on JWT_OK and zeroed otherwise. */
jwt_result jwt_verify(const char *token, jwt_key *const *keys, int n_keys, const char *expect_iss,
                      const char *expect_aud, int64_t now, int64_t leeway, jwt_claims *out);

#endif
