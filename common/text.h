/* Small text checks every service needs on hostile input: UTF-8 decoding, validity and
 * length in code points, control characters, character classes and dates. */
#ifndef METRO_TEXT_H
#define METRO_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The well-formed UTF-8 sequence at p: its length 1-4 with its code point in *cp (cp may be NULL),
 * or 0 when the bytes there are not one (stray continuation, overlong form, surrogate, beyond
 * U+10FFFF, or cut short by the NUL). Never reads past a NUL; the NUL itself is the one-byte
 * sequence U+0000, so loops stop on *p, not on the result. */
size_t text_utf8_decode(const char *p, unsigned *cp);
/* Code points in s, or -1 when s is not valid UTF-8 (overlongs and surrogates included). */
long text_utf8_length(const char *s);
/* True when s contains a C0 control character or DEL. */
bool text_has_control(const char *s);
/* True when every byte of s is in `allowed` (a string of characters). */
bool text_only_chars(const char *s, const char *allowed);
/* A valid calendar date "YYYY-MM-DD"; *days gets days since 1970-01-01 when non-NULL. */
bool text_parse_date(const char *s, long *days);

#endif
