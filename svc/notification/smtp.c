/* The email sender: one finished message to one recipient over libcurl's SMTP (STARTTLS when
 * offered or required, AUTH when configured), its outcome sorted into sent, retry or rejected. */
#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/http_client.h"
#include "svc/notification/notification.h"

#define SMTP_DEFAULT_TIMEOUT_MS 30000
#define SMTP_MAX_CONNECT_TIMEOUT_MS 10000
#define SMTP_ADDR_MAX 256

/* ---- The upload: the message as curl reads it ----------------------------------------------- */

typedef struct {
  const char *p;
  size_t left;
} upload;

static size_t on_read(char *buf, size_t size, size_t n, void *userdata) {
  upload *u = userdata;
  size_t want = size * n;
  if (want > u->left) want = u->left;
  memcpy(buf, u->p, want);
  u->p += want;
  u->left -= want;
  return want;
}

/* ---- The dialogue: which command the server refused, and what it said ------------------------ */

/* Filled from curl's debug stream: the verb of the last command sent (never its arguments, so
 * AUTH's credentials are not kept) and, when the last reply (QUIT's aside) was a refusal (4xx or
 * 5xx), that reply and the command it answered. A later success clears an earlier refusal that
 * curl worked around (EHLO refused, then HELO). */
typedef struct {
  char last_cmd[8];
  char fail_cmd[8];
  int fail_code;
  char fail_text[256];
} dialogue;

/* The server's reply line without its line end and with control characters made spaces. */
static void copy_line(char *dst, size_t cap, const char *src, size_t len) {
  while (len > 0 && (src[len - 1] == '\n' || src[len - 1] == '\r')) len--;
  if (len >= cap) len = cap - 1;
  for (size_t i = 0; i < len; i++) dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
  dst[len] = '\0';
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *userdata) {
  (void)h;
  dialogue *d = userdata;
  if (type == CURLINFO_HEADER_OUT) {
    /* A command: keep its verb only (up to the first space or line end). */
    size_t i = 0;
    for (; i < size && i < sizeof d->last_cmd - 1 && isalpha((unsigned char)data[i]); i++)
      d->last_cmd[i] = (char)toupper((unsigned char)data[i]);
    d->last_cmd[i] = '\0';
  } else if (type == CURLINFO_HEADER_IN && size >= 3 && isdigit((unsigned char)data[0]) &&
             isdigit((unsigned char)data[1]) && isdigit((unsigned char)data[2]) && strcmp(d->last_cmd, "QUIT") != 0) {
    int code = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
    if (code < 400) {
      d->fail_code = 0;
    } else {
      d->fail_code = code;
      memcpy(d->fail_cmd, d->last_cmd, sizeof d->fail_cmd);
      copy_line(d->fail_text, sizeof d->fail_text, data, size);
    }
  }
  return 0;
}

/* ---- Sending -------------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static bool scheme_allowed(const char *url) {
  return url && (strncasecmp(url, "smtp://", 7) == 0 || strncasecmp(url, "smtps://", 8) == 0);
}

/* A refusal is final when the recipient (RCPT) or the message (DATA, or a 552 to MAIL FROM for
 * the size we announced) was refused with 5xx; 5xx to anything else (STARTTLS, AUTH, a sender
 * the server does not take) is this side's configuration, which can be fixed and retried. */
static bool refusal_is_final(const dialogue *d) {
  if (d->fail_code < 500) return false;
  if (strcmp(d->fail_cmd, "RCPT") == 0 || strcmp(d->fail_cmd, "DATA") == 0) return true;
  return strcmp(d->fail_cmd, "MAIL") == 0 && d->fail_code == 552;
}

static void set_options(CURL *h, const nt_smtp_config *c, const char *from, struct curl_slist *rcpt, upload *u,
                        dialogue *d, char *errbuf) {
  long timeout = c->timeout_ms > 0 ? c->timeout_ms : SMTP_DEFAULT_TIMEOUT_MS;
  curl_easy_setopt(h, CURLOPT_URL, c->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   timeout < SMTP_MAX_CONNECT_TIMEOUT_MS ? timeout : (long)SMTP_MAX_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_USE_SSL, (long)(c->require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
  if (c->user && *c->user) {
    curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(h, CURLOPT_READDATA, u);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u->left);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  /* The debug stream is how the server's replies and our command verbs are seen. */
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, d);
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
}

nt_send_result nt_smtp_send(const nt_smtp_config *c, const char *to_addr, const char *message, size_t len, char *err,
                            size_t errlen) {
  if (err && errlen) err[0] = '\0';
  /* Missing or wrong settings can be fixed, and the message sent then. */
  if (!c || !scheme_allowed(c->url) || !c->from_addr || !nt_address_valid(c->from_addr)) {
    set_err(err, errlen, "SMTP is not configured (an smtp:// or smtps:// URL and a valid sender are needed)");
    return NT_RETRY;
  }
  if (!to_addr || !nt_address_valid(to_addr)) {
    set_err(err, errlen, "not a valid email address");
    return NT_REJECTED;
  }
  if (!message || len == 0) {
    set_err(err, errlen, "empty message");
    return NT_REJECTED;
  }
  if (!httpc_global_init()) { /* curl_global_init, once per process */
    set_err(err, errlen, "libcurl did not initialise");
    return NT_RETRY;
  }
  char from[SMTP_ADDR_MAX + 2], to[SMTP_ADDR_MAX + 2];
  snprintf(from, sizeof from, "<%s>", c->from_addr);
  snprintf(to, sizeof to, "<%s>", to_addr);
  CURL *h = curl_easy_init();
  struct curl_slist *rcpt = h ? curl_slist_append(NULL, to) : NULL;
  if (!rcpt) {
    if (h) curl_easy_cleanup(h);
    set_err(err, errlen, "out of memory");
    return NT_RETRY;
  }

  upload u = {.p = message, .left = len};
  dialogue d = {0};
  char errbuf[CURL_ERROR_SIZE] = "";
  set_options(h, c, from, rcpt, &u, &d, errbuf);
  CURLcode rc = curl_easy_perform(h);
  curl_easy_cleanup(h); /* QUIT and close: nothing is kept between messages */
  curl_slist_free_all(rcpt);

  if (rc == CURLE_OK) return NT_SENT;
  if (d.fail_code) {
    set_err(err, errlen, "%s answered %s", d.fail_cmd[0] ? d.fail_cmd : "the server", d.fail_text);
    return refusal_is_final(&d) ? NT_REJECTED : NT_RETRY;
  }
  /* No refusal from the server: it was unreachable, slow, closed on us, or TLS failed. */
  set_err(err, errlen, "%s: %s", curl_easy_strerror(rc), errbuf[0] ? errbuf : "no details");
  return NT_RETRY;
}
