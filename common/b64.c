/* Base64 encoding and strict decoding (RFC 4648 §4 and §5), with and without padding.
 * Decoding is table driven and refuses non-canonical input rather than guessing. */
#include "common/b64.h"

#include <stdint.h>
#include <stdlib.h>

static const char ALPHABET_STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char ALPHABET_URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static bool variant_is_url(b64_variant v) { return v == B64_URL || v == B64_URL_NOPAD; }
static bool variant_pads(b64_variant v) { return v == B64_STD || v == B64_URL; }

size_t b64_encoded_len(b64_variant v, size_t n) {
  if (n > (SIZE_MAX - 3) / 4 * 3) return SIZE_MAX; /* cannot be encoded in memory */
  size_t full = n / 3 * 4;
  size_t rest = n % 3;
  if (rest == 0) return full;
  return full + (variant_pads(v) ? 4 : rest + 1);
}

size_t b64_decoded_max(size_t n) { return n / 4 * 3 + (n % 4 ? 2 : 0); }

bool b64_encode(b64_variant v, const void *in, size_t n, char *out, size_t cap) {
  size_t need = b64_encoded_len(v, n);
  if (cap > 0) out[0] = '\0';
  if (need == SIZE_MAX || cap <= need) return false;
  const char *abc = variant_is_url(v) ? ALPHABET_URL : ALPHABET_STD;
  const uint8_t *p = in;
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = abc[w >> 18 & 63];
    out[o++] = abc[w >> 12 & 63];
    out[o++] = abc[w >> 6 & 63];
    out[o++] = abc[w & 63];
  }
  size_t rest = n - i;
  if (rest > 0) {
    uint32_t w = (uint32_t)p[i] << 16 | (rest == 2 ? (uint32_t)p[i + 1] << 8 : 0);
    out[o++] = abc[w >> 18 & 63];
    out[o++] = abc[w >> 12 & 63];
    if (rest == 2) out[o++] = abc[w >> 6 & 63];
    if (variant_pads(v)) {
      out[o++] = '=';
      if (rest == 1) out[o++] = '=';
    }
  }
  out[o] = '\0';
  return true;
}

char *b64_encode_alloc(b64_variant v, const void *in, size_t n) {
  size_t need = b64_encoded_len(v, n);
  if (need == SIZE_MAX) return NULL;
  char *s = malloc(need + 1);
  if (s && !b64_encode(v, in, n, s, need + 1)) {
    free(s);
    return NULL;
  }
  return s;
}

/* The 6-bit value of c in the variant's alphabet, or -1. */
static int sextet(bool url, unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

bool b64_decode(b64_variant v, const char *in, size_t n, void *out, size_t cap, size_t *out_len) {
  bool url = variant_is_url(v);
  size_t data = n; /* characters that carry bits */
  if (variant_pads(v)) {
    if (n % 4 != 0) return false;
    if (n >= 1 && in[n - 1] == '=') data--;
    if (n >= 2 && in[n - 2] == '=') data--;
  }
  if (data % 4 == 1) return false; /* one character cannot hold a whole byte */
  size_t len = data / 4 * 3 + (data % 4 ? data % 4 - 1 : 0);
  if (len > cap) return false;

  uint8_t *o = out;
  uint32_t acc = 0;
  int bits = 0;
  size_t w = 0;
  for (size_t i = 0; i < data; i++) {
    int s = sextet(url, (unsigned char)in[i]);
    if (s < 0) return false;
    acc = (acc << 6 | (uint32_t)s) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o[w++] = (uint8_t)(acc >> bits);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return false; /* non-canonical tail */
  if (out_len) *out_len = w;
  return true;
}
