/* The strict HTTP/1.1 request parser (see http_parse.h): CRLF line endings only, no obs-fold,
 * no control bytes in values, one unambiguous framing (RFC 9112 §6.3), limits mapped to 414/431. */
#include "transcoder/http_parse.h"

#include <string.h>
#include <strings.h>

#define MAX_CHUNK_EXT 256
#define MAX_TRAILER_LINE 8192
#define MAX_TRAILER_FIELDS 32
#define MAX_CHUNK_DIGITS 15 /* 16^15 bytes: far past any body limit, never overflows */

static bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* field-vchar, SP, HTAB and obs-text: everything but NUL, CR, LF and the other controls. */
static bool is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static http_parse_result fail(http_parse_error *err, int status, const char *reason, const char *message) {
  err->status = status;
  err->reason = reason;
  err->message = message;
  return HTTP_PARSE_FAILED;
}

/* Finds the CRLF ending the line that starts at `from`: 1 (*eol = the CR), 0 not yet,
 * -1 a CR not followed by LF or a LF not preceded by CR. */
static int find_line(const char *buf, size_t from, size_t len, size_t *eol) {
  for (size_t i = from; i < len; i++) {
    if (buf[i] == '\n') return -1;
    if (buf[i] == '\r') {
      if (i + 1 == len) return 0;
      if (buf[i + 1] != '\n') return -1;
      *eol = i;
      return 1;
    }
  }
  return 0;
}

static bool equals_ci(const char *s, size_t n, const char *lit) { return strlen(lit) == n && strncasecmp(s, lit, n) == 0; }

static http_parse_result parse_request_line(const char *line, size_t n, const http_limits *lim, http_head *out,
                                            http_parse_error *err) {
  size_t i = 0;
  while (i < n && is_tchar((unsigned char)line[i])) i++;
  if (i == 0 || i >= n || line[i] != ' ') return fail(err, 400, "BAD_REQUEST_LINE", "malformed request line");
  out->method = line;
  out->method_len = i;
  size_t t = ++i;
  while (i < n && line[i] > 0x20 && line[i] < 0x7f) i++;
  if (i - t > lim->max_target) return fail(err, 414, "URI_TOO_LONG", "the request target is too long");
  if (i == t || i >= n || line[i] != ' ') return fail(err, 400, "BAD_REQUEST_LINE", "malformed request line");
  out->target = line + t;
  out->target_len = i - t;
  const char *v = line + i + 1;
  size_t vn = n - i - 1;
  if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
    return fail(err, 400, "BAD_REQUEST_LINE", "malformed request line");
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
    return fail(err, 505, "HTTP_VERSION_NOT_SUPPORTED", "only HTTP/1.0 and HTTP/1.1 are served");
  out->minor_version = v[7] - '0';
  return HTTP_PARSE_DONE;
}

static http_parse_result parse_field(const char *line, size_t n, http_head *out, http_parse_error *err) {
  if (line[0] == ' ' || line[0] == '\t')
    return fail(err, 400, "OBSOLETE_LINE_FOLDING", "header line folding (obs-fold) is not accepted");
  size_t i = 0;
  while (i < n && is_tchar((unsigned char)line[i])) i++;
  if (i == 0 || i >= n || line[i] != ':') return fail(err, 400, "BAD_HEADER", "malformed header field name");
  http_field *f = &out->fields[out->n_fields++];
  f->name = line;
  f->name_len = i;
  size_t v = i + 1;
  while (v < n && (line[v] == ' ' || line[v] == '\t')) v++;
  size_t end = n;
  for (size_t k = v; k < n; k++)
    if (!is_value_char((unsigned char)line[k]))
      return fail(err, 400, "BAD_HEADER", "a header value holds a control character (NUL, CR or LF)");
  while (end > v && (line[end - 1] == ' ' || line[end - 1] == '\t')) end--;
  f->value = line + v;
  f->value_len = end - v;
  return HTTP_PARSE_DONE;
}

const http_field *http_head_field(const http_head *h, const char *name) {
  for (int i = 0; i < h->n_fields; i++)
    if (equals_ci(h->fields[i].name, h->fields[i].name_len, name)) return &h->fields[i];
  return NULL;
}

/* Whether a comma-separated field value lists `token` (case-insensitive). */
static bool lists_token(const http_field *f, const char *token) {
  size_t i = 0;
  while (i < f->value_len) {
    while (i < f->value_len && (f->value[i] == ' ' || f->value[i] == '\t' || f->value[i] == ',')) i++;
    size_t s = i;
    while (i < f->value_len && f->value[i] != ',') i++;
    size_t e = i;
    while (e > s && (f->value[e - 1] == ' ' || f->value[e - 1] == '\t')) e--;
    if (e > s && equals_ci(f->value + s, e - s, token)) return true;
  }
  return false;
}

/* The framing rules: one Content-Length of digits that fits, or Transfer-Encoding exactly
 * "chunked" on HTTP/1.1, never both; Host once on HTTP/1.1; Expect only 100-continue. */
static http_parse_result derive_framing(http_head *h, http_parse_error *err) {
  h->content_length = -1;
  h->keep_alive = h->minor_version == 1;
  int hosts = 0, encodings = 0;
  for (int i = 0; i < h->n_fields; i++) {
    const http_field *f = &h->fields[i];
    if (equals_ci(f->name, f->name_len, "Content-Length")) {
      if (f->value_len == 0) return fail(err, 400, "INVALID_CONTENT_LENGTH", "Content-Length must be digits");
      if (f->value_len > 18) return fail(err, 400, "INVALID_CONTENT_LENGTH", "Content-Length is too large");
      int64_t v = 0;
      for (size_t k = 0; k < f->value_len; k++) {
        if (f->value[k] < '0' || f->value[k] > '9')
          return fail(err, 400, "INVALID_CONTENT_LENGTH", "Content-Length must be digits");
        v = v * 10 + (f->value[k] - '0');
      }
      if (h->content_length >= 0 && h->content_length != v)
        return fail(err, 400, "INVALID_CONTENT_LENGTH", "conflicting Content-Length fields");
      h->content_length = v;
    } else if (equals_ci(f->name, f->name_len, "Transfer-Encoding")) {
      encodings++;
      if (!equals_ci(f->value, f->value_len, "chunked"))
        return fail(err, 400, "UNSUPPORTED_TRANSFER_ENCODING", "the only transfer coding accepted is chunked");
    } else if (equals_ci(f->name, f->name_len, "Host")) {
      hosts++;
    } else if (equals_ci(f->name, f->name_len, "Connection")) {
      if (lists_token(f, "close")) h->keep_alive = false;
      else if (lists_token(f, "keep-alive")) h->keep_alive = true;
    } else if (equals_ci(f->name, f->name_len, "Expect")) {
      if (!equals_ci(f->value, f->value_len, "100-continue"))
        return fail(err, 417, "EXPECTATION_FAILED", "the only expectation supported is 100-continue");
      h->expect_continue = true;
    }
  }
  if (encodings > 1)
    return fail(err, 400, "UNSUPPORTED_TRANSFER_ENCODING", "Transfer-Encoding is given more than once");
  if (encodings && h->minor_version == 0)
    return fail(err, 400, "UNSUPPORTED_TRANSFER_ENCODING", "HTTP/1.0 has no transfer codings");
  h->chunked = encodings == 1;
  if (h->chunked && h->content_length >= 0)
    return fail(err, 400, "AMBIGUOUS_FRAMING", "Content-Length and Transfer-Encoding together are not accepted");
  if (hosts > 1) return fail(err, 400, "BAD_HOST", "Host is given more than once");
  if (hosts == 0 && h->minor_version == 1) return fail(err, 400, "MISSING_HOST", "HTTP/1.1 requests need a Host");
  return HTTP_PARSE_DONE;
}

http_parse_result http_parse_head(const char *buf, size_t len, const http_limits *lim, http_head *out,
                                  size_t *consumed, http_parse_error *err) {
  memset(out, 0, sizeof *out);
  size_t pos = 0;
  /* RFC 9112 §2.2: empty lines before the request line are ignored (a few). */
  for (int i = 0; i < 4 && len - pos >= 2 && buf[pos] == '\r' && buf[pos + 1] == '\n'; i++) pos += 2;
  size_t eol;
  int found = find_line(buf, pos, len, &eol);
  if (found < 0) return fail(err, 400, "BAD_LINE_ENDING", "lines must end with CRLF");
  if (found == 0) {
    /* Still in the request line: once it cannot fit, say which part is too long. */
    if (len - pos > lim->max_target + 32) {
      const char *sp = memchr(buf + pos, ' ', len - pos);
      if (sp && !memchr(sp + 1, ' ', len - (size_t)(sp + 1 - buf)))
        return fail(err, 414, "URI_TOO_LONG", "the request target is too long");
      return fail(err, 400, "BAD_REQUEST_LINE", "malformed request line");
    }
    return HTTP_PARSE_INCOMPLETE;
  }
  http_parse_result r = parse_request_line(buf + pos, eol - pos, lim, out, err);
  if (r != HTTP_PARSE_DONE) return r;
  size_t head_start = pos;
  pos = eol + 2;
  for (;;) {
    found = find_line(buf, pos, len, &eol);
    if (found < 0) return fail(err, 400, "BAD_LINE_ENDING", "lines must end with CRLF");
    size_t line_len = found ? eol - pos : len - pos;
    if (line_len > lim->max_header_line)
      return fail(err, 431, "HEADER_TOO_LARGE", "a request header field is too large");
    if ((found ? eol : len) - head_start > lim->max_head)
      return fail(err, 431, "HEADERS_TOO_LARGE", "the request header section is too large");
    if (!found) return HTTP_PARSE_INCOMPLETE;
    if (line_len == 0) break;
    if (out->n_fields >= lim->max_headers || out->n_fields >= HTTP_MAX_HEADERS_HARD)
      return fail(err, 431, "TOO_MANY_HEADERS", "too many request header fields");
    r = parse_field(buf + pos, line_len, out, err);
    if (r != HTTP_PARSE_DONE) return r;
    pos = eol + 2;
  }
  *consumed = eol + 2;
  return derive_framing(out, err);
}

/* ---- chunked ---- */

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LF };

static http_chunked_result chunk_fail(http_parse_error *err, const char *message) {
  err->status = 400;
  err->reason = "BAD_CHUNKED_BODY";
  err->message = message;
  return HTTP_CHUNKED_FAILED;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

http_chunked_result http_chunked_feed(http_chunked *c, const char *in, size_t len, size_t *used,
                                      bool (*emit)(void *user, const char *data, size_t n), void *user,
                                      http_parse_error *err) {
  size_t i = 0;
  while (i < len) {
    char ch = in[i];
    switch (c->state) {
    case CH_SIZE: {
      int h = hex_value(ch);
      if (h >= 0) {
        if (++c->digits > MAX_CHUNK_DIGITS) return chunk_fail(err, "chunk size too large");
        c->remaining = c->remaining * 16 + (uint64_t)h;
        i++;
      } else if (c->digits == 0) {
        return chunk_fail(err, "a chunk must start with its size in hex");
      } else if (ch == ';' || ch == ' ' || ch == '\t') {
        c->state = CH_EXT;
        c->line_len = 0;
        i++;
      } else if (ch == '\r') {
        c->state = CH_SIZE_LF;
        i++;
      } else {
        return chunk_fail(err, "malformed chunk size");
      }
      break;
    }
    case CH_EXT:
      if (ch == '\r') c->state = CH_SIZE_LF;
      else if (!is_value_char((unsigned char)ch) || ++c->line_len > MAX_CHUNK_EXT)
        return chunk_fail(err, "malformed chunk extension");
      i++;
      break;
    case CH_SIZE_LF:
      if (ch != '\n') return chunk_fail(err, "chunk lines must end with CRLF");
      i++;
      c->digits = 0;
      if (c->remaining == 0) {
        c->state = CH_TRAILER;
        c->line_len = 0;
      } else {
        c->state = CH_DATA;
      }
      break;
    case CH_DATA: {
      size_t n = len - i;
      if ((uint64_t)n > c->remaining) n = (size_t)c->remaining;
      if (!emit(user, in + i, n)) {
        *used = i;
        err->status = 413;
        err->reason = "PAYLOAD_TOO_LARGE";
        err->message = "the request body is too large";
        return HTTP_CHUNKED_FAILED;
      }
      i += n;
      c->remaining -= n;
      if (c->remaining == 0) c->state = CH_DATA_CR;
      break;
    }
    case CH_DATA_CR:
      if (ch != '\r') return chunk_fail(err, "chunk data must end with CRLF");
      c->state = CH_DATA_LF;
      i++;
      break;
    case CH_DATA_LF:
      if (ch != '\n') return chunk_fail(err, "chunk data must end with CRLF");
      c->state = CH_SIZE;
      i++;
      break;
    case CH_TRAILER:
      if (ch == '\r') {
        c->state = CH_TRAILER_LF;
      } else if (!is_value_char((unsigned char)ch) || ++c->line_len > MAX_TRAILER_LINE) {
        return chunk_fail(err, "malformed trailer field");
      }
      i++;
      break;
    case CH_TRAILER_LF:
      if (ch != '\n') return chunk_fail(err, "trailer lines must end with CRLF");
      i++;
      if (c->line_len == 0) {
        *used = i;
        return HTTP_CHUNKED_DONE;
      }
      if (++c->trailer_fields > MAX_TRAILER_FIELDS) return chunk_fail(err, "too many trailer fields");
      c->line_len = 0;
      c->state = CH_TRAILER;
      break;
    }
  }
  *used = i;
  return HTTP_CHUNKED_MORE;
}
