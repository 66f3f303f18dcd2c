/* RFC 5322 / MIME messages for the SMTP sender: validated addresses, header values that cannot
 * inject headers (RFC 2047 encoded words, folded), and multipart bodies in 76-column base64 with
 * their inline images and attachments. */
#include "svc/notification/notification.h"

#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/crypto.h"

#define LINE_LIMIT 76        /* RFC 2047 §2: a header line holding encoded words */
#define HEADER_NAME_ROOM 10  /* what a value leaves for its header name: "Subject: " */
#define WORD_PREFIX "=?UTF-8?B?"
#define WORD_SUFFIX "?="
#define WORD_OVERHEAD (sizeof WORD_PREFIX - 1 + sizeof WORD_SUFFIX - 1)
/* Bytes of text per encoded word, so "Subject: " and one word fit a line: 39 (a 64-column word). */
#define WORD_RAW_MAX ((LINE_LIMIT - HEADER_NAME_ROOM - WORD_OVERHEAD) / 4 * 3)
#define BODY_RAW_PER_LINE 57 /* 76 base64 characters */
#define BOUNDARY_RANDOM 16
#define UTC_OFFSET_S (7 * 3600)
#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD for bytes that are not UTF-8 */

static const char *const DAY_NAMES[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const MONTH_NAMES[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* ---- a growing string in the arena ---- */

typedef struct sbuf {
  arena *a;
  char *p;
  size_t len, cap;
} sbuf;

/* Room for n more bytes and the NUL; callers that know a part's size reserve it first, so a
 * large attachment is not copied at every doubling (the arena keeps what it outgrows). */
static void sb_reserve(sbuf *b, size_t n) {
  if (b->len + n + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap * 2 : 256;
  while (cap < b->len + n + 1) cap *= 2;
  char *p = arena_alloc(b->a, cap);
  if (b->len) memcpy(p, b->p, b->len);
  b->p = p;
  b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n) {
  sb_reserve(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static char *sb_str(sbuf *b) { return b->p ? b->p : arena_strdup(b->a, ""); }

/* ---- addresses and header values ---- */

bool nt_address_valid(const char *addr) {
  if (!addr) return false;
  size_t n = strlen(addr);
  if (n < 3 || n > 254) return false;
  const char *at = strchr(addr, '@');
  if (!at || at == addr || at == addr + n - 1 || strchr(at + 1, '@')) return false;
  for (const char *p = addr; *p; p++)
    if (*p <= ' ' || *p > '~' || strchr("<>,;", *p)) return false;
  return true;
}

/* The length of the valid UTF-8 character at p (no overlongs, surrogates or values past
 * U+10FFFF), or 0 when p does not start one. */
static size_t utf8_char_len(const unsigned char *p) {
  unsigned c = p[0], cp, min;
  size_t n;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0)
    n = 2, cp = c & 0x1f, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    n = 3, cp = c & 0x0f, min = 0x800;
  else if ((c & 0xf8) == 0xf0)
    n = 4, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/* s as a header may carry it: CR, LF and other control characters removed (a tab becomes a
 * space), bytes that are not UTF-8 replaced by U+FFFD, leading and trailing spaces trimmed. */
static char *header_clean(arena *a, const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  char *out = arena_alloc(a, strlen((const char *)p) * 3 + 1);
  size_t o = 0;
  while (*p) {
    size_t n = utf8_char_len(p);
    if (n == 0) {
      memcpy(out + o, REPLACEMENT_CHAR, 3);
      o += 3;
      p++;
    } else if (*p == '\t') {
      out[o++] = ' ';
      p++;
    } else if (*p < 0x20 || *p == 0x7f) {
      p++;
    } else {
      memcpy(out + o, p, n);
      o += n;
      p += n;
    }
  }
  while (o > 0 && out[o - 1] == ' ') o--;
  out[o] = '\0';
  char *start = out;
  while (*start == ' ') start++;
  return start;
}

static bool is_ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80) return false;
  return true;
}

/* Where to end a word of at most take of the rest bytes of s: after its last space when that
 * is in the second half, so a reader that wrongly keeps the space between words only doubles
 * a space instead of splitting a name. */
static size_t cut_after_space(const char *s, size_t take, size_t rest) {
  if (take == rest) return take;
  for (size_t k = take; k > take / 2; k--)
    if (s[k - 1] == ' ') return k;
  return take;
}

/* s (valid UTF-8) as encoded words of at most WORD_RAW_MAX bytes each, never cutting a
 * character, the second and later each on a folded line of its own. */
static void put_encoded_words(sbuf *b, const char *s, size_t *col) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t take = n - i < WORD_RAW_MAX ? n - i : WORD_RAW_MAX;
    while (take > 1 && i + take < n && ((unsigned char)s[i + take] & 0xc0) == 0x80) take--;
    take = cut_after_space(s + i, take, n - i);
    char enc[WORD_RAW_MAX / 3 * 4 + 1];
    b64_encode(B64_STD, s + i, take, enc, sizeof enc);
    if (i > 0) {
      sb_puts(b, "\r\n ");
      *col = 1;
    }
    sb_puts(b, WORD_PREFIX);
    sb_puts(b, enc);
    sb_puts(b, WORD_SUFFIX);
    *col += WORD_OVERHEAD + strlen(enc);
    i += take;
  }
}

/* ASCII s folded before spaces so that no line passes LINE_LIMIT; false (b unchanged) when
 * some word cannot fit a line. */
static bool put_folded_ascii(sbuf *b, const char *s, size_t *col) {
  size_t mark = b->len, c = *col;
  for (const char *p = s; *p;) {
    const char *end = p;
    while (*end == ' ') end++;
    while (*end && *end != ' ') end++;
    size_t n = (size_t)(end - p);
    if (c + n > LINE_LIMIT) {
      if (p == s || n > LINE_LIMIT) { /* nowhere to fold, or the word alone is too long */
        b->len = mark;
        if (b->p) b->p[mark] = '\0';
        return false;
      }
      sb_puts(b, "\r\n");
      c = 0;
    }
    sb_put(b, p, n);
    c += n;
    p = end;
  }
  *col = c;
  return true;
}

/* A cleaned value: as is (folded) when ASCII and not mistakable for encoded words, else
 * encoded. */
static void put_header_value(sbuf *b, const char *clean, size_t *col) {
  if (is_ascii(clean) && !strstr(clean, "=?") && put_folded_ascii(b, clean, col)) return;
  put_encoded_words(b, clean, col);
}

char *nt_header_text(arena *a, const char *utf8) {
  sbuf b = {.a = a};
  size_t col = HEADER_NAME_ROOM;
  put_header_value(&b, header_clean(a, utf8), &col);
  return sb_str(&b);
}

/* "name <addr>": an ASCII name as a quoted string when it fits the line, any other as encoded
 * words; the address moves to a folded line of its own when it would pass LINE_LIMIT. */
static void put_mailbox(sbuf *b, const char *header, const char *name, const char *addr) {
  sb_puts(b, header);
  size_t col = strlen(header);
  const char *clean = header_clean(b->a, name);
  if (!*clean) {
    sb_puts(b, addr);
    sb_puts(b, "\r\n");
    return;
  }
  bool quoted = false;
  if (is_ascii(clean) && !strstr(clean, "=?")) {
    sbuf q = {.a = b->a};
    sb_puts(&q, "\"");
    for (const char *p = clean; *p; p++) {
      if (*p == '"' || *p == '\\') sb_puts(&q, "\\");
      sb_put(&q, p, 1);
    }
    sb_puts(&q, "\"");
    if (col + q.len <= LINE_LIMIT) {
      sb_puts(b, q.p);
      col += q.len;
      quoted = true;
    }
  }
  if (!quoted) put_encoded_words(b, clean, &col);
  sb_puts(b, col + 3 + strlen(addr) > LINE_LIMIT ? "\r\n <" : " <");
  sb_puts(b, addr);
  sb_puts(b, ">\r\n");
}

/* RFC 5322 §3.3 in Ho Chi Minh City time: "Tue, 03 Dec 2024 20:00:00 +0700". */
static char *rfc5322_date(arena *a, int64_t unix_s) {
  struct tm tm;
  if (unix_s > INT64_MAX - UTC_OFFSET_S) return NULL;
  time_t t = (time_t)(unix_s + UTC_OFFSET_S);
  if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900) return NULL;
  return arena_printf(a, "%s, %02d %s %04d %02d:%02d:%02d +0700", DAY_NAMES[tm.tm_wday], tm.tm_mday,
                      MONTH_NAMES[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* True for printable ASCII without spaces and without any of `refused`. */
static bool is_token(const char *s, const char *refused) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s <= ' ' || *s > '~' || strchr(refused, *s)) return false;
  return true;
}

/* The Message-ID: the given one in angle brackets, or "<uuid@domain of from>" when none. */
static char *message_id(arena *a, const char *given, const char *from_addr) {
  if (!given) {
    char uuid[CRYPTO_UUID_LEN + 1];
    crypto_uuid_v4(uuid);
    return arena_printf(a, "<%s%s>", uuid, strchr(from_addr, '@'));
  }
  const char *id = header_clean(a, given);
  size_t n = strlen(id);
  if (n >= 2 && id[0] == '<' && id[n - 1] == '>') id = arena_strndup(a, id + 1, n - 2);
  if (!is_token(id, "<>\"\\") || strlen(id) > 250) return NULL;
  return arena_printf(a, "<%s>", id);
}

/* ---- bodies ---- */

/* s with every line end (LF, CR or CRLF) as CRLF: text is canonical before base64 (RFC 2045
 * §6.8). */
static char *crlf_text(arena *a, const char *s) {
  char *out = arena_alloc(a, strlen(s) * 2 + 1);
  size_t o = 0;
  for (; *s; s++) {
    if (*s == '\r' || *s == '\n') {
      out[o++] = '\r';
      out[o++] = '\n';
      if (*s == '\r' && s[1] == '\n') s++;
    } else {
      out[o++] = *s;
    }
  }
  out[o] = '\0';
  return out;
}

/* What put_base64_lines writes for n bytes: full lines of 76 characters and CRLF. */
static size_t base64_lines_len(size_t n) {
  return (n + BODY_RAW_PER_LINE - 1) / BODY_RAW_PER_LINE * (BODY_RAW_PER_LINE / 3 * 4 + 2);
}

static void put_base64_lines(sbuf *b, const void *data, size_t n) {
  const uint8_t *p = data;
  sb_reserve(b, base64_lines_len(n));
  for (size_t i = 0; i < n; i += BODY_RAW_PER_LINE) {
    char line[BODY_RAW_PER_LINE / 3 * 4 + 1];
    b64_encode(B64_STD, p + i, n - i < BODY_RAW_PER_LINE ? n - i : BODY_RAW_PER_LINE, line, sizeof line);
    sb_puts(b, line);
    sb_puts(b, "\r\n");
  }
}

/* One entity: its header lines (each ending in CRLF), a blank line, the data in base64. */
static char *leaf_part(arena *a, const char *headers, const void *data, size_t n) {
  sbuf b = {.a = a};
  sb_puts(&b, headers);
  sb_puts(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
  put_base64_lines(&b, data, n);
  return sb_str(&b);
}

static char *text_part(arena *a, const char *subtype, const char *text) {
  const char *body = crlf_text(a, text);
  return leaf_part(a, arena_printf(a, "Content-Type: text/%s; charset=UTF-8\r\n", subtype), body, strlen(body));
}

/* A boundary that occurs in none of the parts ("=_" never occurs in base64 either). */
static char *boundary_for(arena *a, char *const *parts, size_t n) {
  for (;;) {
    uint8_t r[BOUNDARY_RANDOM];
    char hex[2 * BOUNDARY_RANDOM + 1];
    crypto_random_bytes(r, sizeof r);
    crypto_hex(r, sizeof r, hex);
    char *boundary = arena_printf(a, "=_metro_%s", hex);
    size_t i = 0;
    while (i < n && !strstr(parts[i], boundary)) i++;
    if (i == n) return boundary;
  }
}

/* A multipart entity of the parts; params are extra Content-Type parameters ("" or
 * "; type=..."). */
static char *multipart(arena *a, const char *subtype, const char *params, char *const *parts, size_t n) {
  const char *boundary = boundary_for(a, parts, n);
  sbuf b = {.a = a};
  size_t room = 128 + (n + 1) * (strlen(boundary) + 6);
  for (size_t i = 0; i < n; i++) room += strlen(parts[i]);
  sb_reserve(&b, room);
  sb_puts(&b, arena_printf(a, "Content-Type: multipart/%s%s;\r\n boundary=\"%s\"\r\n\r\n", subtype, params, boundary));
  for (size_t i = 0; i < n; i++) {
    sb_puts(&b, arena_printf(a, "--%s\r\n", boundary));
    sb_puts(&b, parts[i]);
  }
  sb_puts(&b, arena_printf(a, "--%s--\r\n", boundary));
  return sb_str(&b);
}

/* A header field with parameters, "; " between them, each moved to a folded line of its own
 * when it would pass LINE_LIMIT. */
static void put_field(sbuf *b, const char *field, const char *const *params, size_t n) {
  sb_puts(b, field);
  size_t col = strlen(field);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(params[i]);
    if (col + 2 + len > LINE_LIMIT) {
      sb_puts(b, ";\r\n ");
      col = 1;
    } else {
      sb_puts(b, "; ");
      col += 2;
    }
    sb_puts(b, params[i]);
    col += len;
  }
  sb_puts(b, "\r\n");
}

/* A file name for Content-Disposition: letters, digits, '.', '-' and '_' only. */
static char *safe_filename(arena *a, const char *name, const char *fallback) {
  if (!name || !*name) return arena_strdup(a, fallback);
  char *s = arena_strndup(a, name, strnlen(name, 64));
  for (char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(".-_", *p)))
      *p = '_';
  return s;
}

/* The image types a mail reader shows inline, with the file name used when none is given. */
typedef struct inline_type {
  const char *content_type, *default_name;
} inline_type;

static const inline_type INLINE_TYPES[] = {
    {"image/png", "image.png"},
    {"image/svg+xml", "image.svg"},
};

static const inline_type *inline_type_of(const char *content_type) {
  for (size_t i = 0; i < sizeof INLINE_TYPES / sizeof INLINE_TYPES[0]; i++)
    if (content_type && strcmp(content_type, INLINE_TYPES[i].content_type) == 0) return &INLINE_TYPES[i];
  return NULL;
}

static bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/* 1-64 characters, the first a letter or digit, the others too or one of `more`. */
static bool is_name(const char *s, size_t n, const char *more) {
  if (n == 0 || n > 64 || !is_alnum(s[0])) return false;
  for (size_t i = 1; i < n; i++)
    if (!is_alnum(s[i]) && !strchr(more, s[i])) return false;
  return true;
}

/* "type/subtype" as RFC 6838 §4.2 names them: nothing a header could be bent with. */
static bool is_media_type(const char *s) {
  const char *slash = s ? strchr(s, '/') : NULL;
  static const char RESTRICTED[] = "!#$&^_.+-";
  return slash && is_name(s, (size_t)(slash - s), RESTRICTED) && is_name(slash + 1, strlen(slash + 1), RESTRICTED);
}

/* One inline image or attachment (its kind checked by the caller); NULL when it is unusable
 * (see nt_mime_build). */
static char *part_entity(arena *a, const nt_part *p) {
  bool inline_image = p->kind == NT_PART_INLINE;
  const inline_type *t = inline_type_of(p->content_type);
  if (!p->data || p->len == 0 || (p->charset && !is_name(p->charset, strlen(p->charset), "-_"))) return NULL;
  if (inline_image && (!t || !p->content_id || !is_token(p->content_id, "<>\"\\") || strlen(p->content_id) > 200))
    return NULL;
  if (!inline_image && !is_media_type(p->content_type)) return NULL;
  const char *file = safe_filename(a, p->filename, inline_image ? t->default_name : "attachment");
  const char *params[2];
  size_t n = 0;
  if (p->charset) params[n++] = arena_printf(a, "charset=%s", p->charset);
  params[n++] = arena_printf(a, "name=\"%s\"", file);
  sbuf h = {.a = a};
  put_field(&h, arena_printf(a, "Content-Type: %s", p->content_type), params, n);
  if (inline_image) sb_puts(&h, arena_printf(a, "Content-ID: <%s>\r\n", p->content_id));
  const char *filename = arena_printf(a, "filename=\"%s\"", file);
  put_field(&h, inline_image ? "Content-Disposition: inline" : "Content-Disposition: attachment", &filename, 1);
  return leaf_part(a, sb_str(&h), p->data, p->len);
}

/* The parts of one kind as entities after `first`: parts[0] is first, *n the count. NULL when
 * one is unusable. */
static char **entities_after(arena *a, char *first, const nt_email *e, nt_part_kind kind, size_t *n) {
  char **parts = arena_alloc(a, sizeof *parts * (e->n_parts + 1));
  parts[0] = first;
  *n = 1;
  for (size_t i = 0; i < e->n_parts; i++) {
    if (e->parts[i].kind != kind) continue;
    if (!(parts[*n] = part_entity(a, &e->parts[i]))) return NULL;
    (*n)++;
  }
  return parts;
}

/* The message's body entity: text alone, or text and HTML as alternatives; beside them the
 * inline images in multipart/related; all that beside the attachments in multipart/mixed. NULL
 * when a part is unusable. */
static char *body_entity(arena *a, const nt_email *e) {
  char *body = text_part(a, "plain", e->text);
  if (e->html) {
    char *alternatives[] = {body, text_part(a, "html", e->html)};
    body = multipart(a, "alternative", "", alternatives, 2);
  }
  size_t n;
  char **related = entities_after(a, body, e, NT_PART_INLINE, &n);
  if (!related) return NULL;
  if (n > 1) body = multipart(a, "related", "; type=\"multipart/alternative\"", related, n);
  char **mixed = entities_after(a, body, e, NT_PART_ATTACHMENT, &n);
  if (!mixed) return NULL;
  return n > 1 ? multipart(a, "mixed", "", mixed, n) : body;
}

bool nt_mime_build(arena *a, const nt_email *e, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (!nt_address_valid(e->from_addr) || !nt_address_valid(e->to_addr) || !e->subject || !e->text) return false;
  for (size_t i = 0; i < e->n_parts; i++) {
    nt_part_kind kind = e->parts[i].kind;
    if ((kind != NT_PART_INLINE && kind != NT_PART_ATTACHMENT) || (kind == NT_PART_INLINE && !e->html)) return false;
  }
  char *date = rfc5322_date(a, e->date_unix);
  char *id = message_id(a, e->message_id, e->from_addr);
  char *body = body_entity(a, e);
  if (!date || !id || !body) return false;

  sbuf m = {.a = a};
  sb_reserve(&m, strlen(body) + 4096);
  sb_puts(&m, arena_printf(a, "Date: %s\r\n", date));
  put_mailbox(&m, "From: ", e->from_name, e->from_addr);
  put_mailbox(&m, "To: ", e->to_name, e->to_addr);
  sb_puts(&m, "Subject: ");
  size_t col = strlen("Subject: ");
  put_header_value(&m, header_clean(a, e->subject), &col);
  sb_puts(&m, "\r\n");
  sb_puts(&m, arena_printf(a, "Message-ID: %s\r\n", id));
  sb_puts(&m, "MIME-Version: 1.0\r\n");
  sb_puts(&m, body);
  *out = m.p;
  *len = m.len;
  return true;
}
