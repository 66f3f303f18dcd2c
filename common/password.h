/* Password storage and policy (domain spec §1.1): scrypt hashes with a per-password salt and a
 * tunable cost, kept as self-describing strings, verified in constant time. */
#ifndef METRO_PASSWORD_H
#define METRO_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Production cost: N = 2^15, r = 8, p = 1 (32 MiB, tens of milliseconds). */
#define PASSWORD_DEFAULT_LN 15
#define PASSWORD_DEFAULT_R 8
#define PASSWORD_DEFAULT_P 1

/* Accepted cost bounds, for hashing and for stored strings alike; the memory scrypt needs
 * (128 * r * 2^ln bytes) must also stay within PASSWORD_MAX_MEMORY. */
#define PASSWORD_MIN_LN 10
#define PASSWORD_MAX_LN 20
#define PASSWORD_MAX_R 32
#define PASSWORD_MAX_P 16
#define PASSWORD_MAX_MEMORY ((size_t)1 << 30)

#define PASSWORD_MAX_BYTES 1024 /* longer passwords are refused before hashing */
#define PASSWORD_HASH_MAX 128   /* buffer size that holds any string password_hash writes */

/* Hashes password with a fresh 16-byte salt into out as
 * "$scrypt$ln=<ln>,r=<r>,p=<p>$<salt>$<hash>" (standard base64 without padding, 32-byte hash).
 * False when the password is longer than PASSWORD_MAX_BYTES, the cost is out of bounds or
 * out is smaller than PASSWORD_HASH_MAX. */
bool password_hash(const char *password, int ln, int r, int p, char *out, size_t cap);

/* True when password matches the stored string; the hashes are compared in constant time.
 * False for a malformed stored string, out-of-bounds parameters or an over-long password. */
bool password_verify(const char *password, const char *stored);

/* True when stored was not made with exactly this cost (or cannot be parsed), so the caller
 * should rehash the password it has just verified. */
bool password_needs_rehash(const char *stored, int ln, int r, int p);

/* The registration policy: 8-128 characters (UTF-8 code points) and at least three of the
 * classes lower, upper, digit, symbol, or at least 12 characters in all. Characters outside
 * ASCII count as symbols; invalid UTF-8 and control characters are refused. */
bool password_policy_ok(const char *password);

#endif
