/* Structured logging: formats each record as one JSON object and emits it with a single
 * write() on stdout, escaping every string (quotes, control bytes, invalid UTF-8). */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum {
  LOG_SERVICE_MAX = 64,    /* bytes kept of the service name */
  LOG_CONTEXT_MAX = 128,   /* bytes kept of a request or trace id (they come off the wire) */
  LOG_MESSAGE_MAX = 16384, /* bytes kept of a formatted message */
  LOG_STACK_LINE = 2048,   /* lines up to this size are built without malloc */
};

static char g_service[LOG_SERVICE_MAX + 1] = "metro";
static atomic_int g_min_level = LOG_INFO;
/* Serialises the write() calls so a short write can be finished before another thread writes. */
static pthread_mutex_t g_write_lock = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local char t_request_id[LOG_CONTEXT_MAX + 1];
static _Thread_local char t_trace_id[LOG_CONTEXT_MAX + 1];

static const char *const LOG_LEVEL_NAMES[] = {
    [LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn", [LOG_ERROR] = "error"};
enum { LOG_LEVEL_COUNT = sizeof LOG_LEVEL_NAMES / sizeof LOG_LEVEL_NAMES[0] };

/* ---- a growable byte buffer that starts on the caller's stack ---- */

typedef struct {
  char *data;
  size_t len, cap;
  bool heap, failed;
} log_buf;

static void buf_reserve(log_buf *b, size_t extra) {
  if (b->failed || b->len + extra <= b->cap) return;
  size_t cap = b->cap * 2;
  while (cap < b->len + extra) cap *= 2;
  char *p = b->heap ? realloc(b->data, cap) : malloc(cap);
  if (!p) {
    b->failed = true;
    return;
  }
  if (!b->heap) memcpy(p, b->data, b->len);
  b->data = p;
  b->cap = cap;
  b->heap = true;
}

static void buf_append(log_buf *b, const char *s, size_t n) {
  buf_reserve(b, n);
  if (b->failed) return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

static void buf_puts(log_buf *b, const char *s) { buf_append(b, s, strlen(s)); }

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 when it is not one
 * (bad lead byte, truncated, overlong, surrogate or beyond U+10FFFF). */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail) {
  unsigned char c = s[0];
  size_t n;
  unsigned int cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (avail < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

/* Appends s[0..n) as a JSON string literal; invalid UTF-8 bytes become U+FFFD. */
static void buf_json_string(log_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s;
  buf_append(b, "\"", 1);
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      buf_append(b, esc, 2);
      i++;
    } else if (c < 0x20 || c == 0x7F) {
      const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                        : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
      if (named) {
        buf_append(b, named, 2);
      } else {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        buf_append(b, esc, 6);
      }
      i++;
    } else {
      size_t len = utf8_sequence_length(p + i, n - i);
      if (len == 0) {
        buf_puts(b, "\\ufffd");
        i++;
      } else {
        buf_append(b, s + i, len);
        i += len;
      }
    }
  }
  buf_append(b, "\"", 1);
}

static void buf_json_field(log_buf *b, const char *key, const char *value) {
  buf_append(b, ",\"", 2);
  buf_puts(b, key);
  buf_append(b, "\":", 2);
  buf_json_string(b, value, strlen(value));
}

/* ---- public API ---- */

static void copy_bounded(char *dst, size_t cap, const char *src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

void log_init(const char *service, log_level min_level) {
  if (service) copy_bounded(g_service, sizeof g_service, service);
  if ((int)min_level >= 0 && (int)min_level < LOG_LEVEL_COUNT) atomic_store(&g_min_level, (int)min_level);
}

int log_level_parse(const char *s) {
  if (!s) return -1;
  for (int i = 0; i < LOG_LEVEL_COUNT; i++)
    if (strcasecmp(s, LOG_LEVEL_NAMES[i]) == 0) return i;
  if (strcasecmp(s, "warning") == 0) return LOG_WARN;
  return -1;
}

static bool is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* A W3C traceparent ("00-<32 hex trace id>-<16 hex span id>-<2 hex flags>") is reduced to
 * its trace id, so lines of one trace share the same value across services. */
static void set_trace_id(const char *trace) {
  size_t n = strlen(trace);
  if (n >= 55 && trace[2] == '-' && trace[35] == '-' && trace[52] == '-' && is_hex(trace, 2) &&
      is_hex(trace + 3, 32)) {
    memcpy(t_trace_id, trace + 3, 32);
    t_trace_id[32] = '\0';
    return;
  }
  copy_bounded(t_trace_id, sizeof t_trace_id, trace);
}

void log_set_context(const char *request_id, const char *trace_id) {
  if (request_id) copy_bounded(t_request_id, sizeof t_request_id, request_id);
  else t_request_id[0] = '\0';
  if (trace_id) set_trace_id(trace_id);
  else t_trace_id[0] = '\0';
}

static void format_time(char *out, size_t cap) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/* Writes the whole line, retrying on EINTR and short writes; lines never interleave
 * between threads of this process. Errors are dropped: logging must not fail a call. */
static void write_line(const char *data, size_t len) {
  pthread_mutex_lock(&g_write_lock);
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    data += n;
    len -= (size_t)n;
  }
  pthread_mutex_unlock(&g_write_lock);
}

/* Formats the message into stack or heap storage; returns its length (bounded). */
static size_t format_message(char *stack, size_t stack_cap, char **out, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(stack, stack_cap, fmt, copy);
  va_end(copy);
  *out = stack;
  if (n < 0) {
    stack[0] = '\0';
    return 0;
  }
  if ((size_t)n < stack_cap) return (size_t)n;
  size_t want = (size_t)n < LOG_MESSAGE_MAX ? (size_t)n : LOG_MESSAGE_MAX;
  char *heap = malloc(want + 1);
  if (!heap) return stack_cap - 1;
  vsnprintf(heap, want + 1, fmt, ap);
  *out = heap;
  return want;
}

void log_write(log_level level, const char *fmt, ...) {
  if ((int)level < 0 || (int)level >= LOG_LEVEL_COUNT) level = LOG_ERROR;
  if ((int)level < atomic_load(&g_min_level)) return;

  char msg_stack[1024];
  char *msg;
  va_list ap;
  va_start(ap, fmt);
  size_t msg_len = format_message(msg_stack, sizeof msg_stack, &msg, fmt ? fmt : "", ap);
  va_end(ap);

  char when[96]; /* room for any int the format could print */
  format_time(when, sizeof when);

  char line_stack[LOG_STACK_LINE];
  log_buf b = {.data = line_stack, .cap = sizeof line_stack};
  buf_puts(&b, "{\"time\":\"");
  buf_puts(&b, when);
  buf_puts(&b, "\"");
  buf_json_field(&b, "level", LOG_LEVEL_NAMES[level]);
  buf_json_field(&b, "service", g_service);
  if (t_request_id[0]) buf_json_field(&b, "requestId", t_request_id);
  if (t_trace_id[0]) buf_json_field(&b, "traceId", t_trace_id);
  buf_puts(&b, ",\"msg\":");
  buf_json_string(&b, msg, msg_len);
  buf_append(&b, "}\n", 2);

  if (!b.failed) write_line(b.data, b.len);
  if (b.heap) free(b.data);
  if (msg != msg_stack) free(msg);
}
