/* The SMS sender: one text to one phone number as a JSON POST to the provider's HTTP API
 * (Bearer key), its answer sorted into sent (with the provider's id), retry or rejected. */
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http_client.h"
#include "svc/notification/notification.h"

#define SMS_DEFAULT_TIMEOUT_MS 10000
#define SMS_MAX_ANSWER (64 * 1024)
#define SMS_ERR_BODY_MAX 200

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* E.164 as providers take it: an optional '+', then 9 to 15 digits. */
static bool phone_valid(const char *p) {
  if (!p) return false;
  if (*p == '+') p++;
  size_t n = 0;
  for (; p[n]; n++)
    if (!isdigit((unsigned char)p[n])) return false;
  return n >= 9 && n <= 15;
}

static bool nonempty(const char *s) { return s && *s; }

/* The answer's "id" into provider_id (cut to id_cap); an answer without one still counts as
 * sent, the provider having said 2xx. */
static void read_id(const httpc_response *res, char *provider_id, size_t id_cap) {
  json_t *v = json_loadb(res->body, res->body_len, 0, NULL);
  const char *id = json_string_value(json_object_get(v, "id"));
  if (id && provider_id && id_cap) snprintf(provider_id, id_cap, "%s", id);
  json_decref(v);
}

/* The start of an answer body on one line, for err. */
static void body_excerpt(const httpc_response *res, char *out, size_t cap) {
  size_t n = res->body_len < cap - 1 ? res->body_len : cap - 1;
  for (size_t i = 0; i < n; i++) out[i] = (unsigned char)res->body[i] < 0x20 ? ' ' : res->body[i];
  out[n] = '\0';
}

nt_send_result nt_sms_send(arena *a, const nt_sms_config *c, const char *to_phone, const char *text, char *provider_id,
                           size_t id_cap, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (provider_id && id_cap) provider_id[0] = '\0';
  /* Missing settings can be fixed, and the message sent then. */
  if (!c || !nonempty(c->api_url) || !nonempty(c->api_key) || !nonempty(c->sender)) {
    set_err(err, errlen, "SMS is not configured (an API URL, key and sender are needed)");
    return NT_RETRY;
  }
  if (!phone_valid(to_phone)) {
    set_err(err, errlen, "not a valid phone number ('+' and 9-15 digits)");
    return NT_REJECTED;
  }
  if (!nonempty(text)) {
    set_err(err, errlen, "empty text");
    return NT_REJECTED;
  }
  /* json_pack refuses strings that are not UTF-8. */
  json_t *body = json_pack("{s:s, s:s, s:s}", "to", to_phone, "from", c->sender, "text", text);
  char *raw = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!raw) {
    set_err(err, errlen, "the text or the sender is not valid UTF-8");
    return NT_REJECTED;
  }
  char *payload = arena_strdup(a, raw);
  free(raw);

  httpc_request req = {.method = "POST",
                       .url = c->api_url,
                       .headers = {arena_printf(a, "Authorization: Bearer %s", c->api_key),
                                   "Content-Type: application/json", "Accept: application/json"},
                       .body = payload,
                       .body_len = strlen(payload),
                       .timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : SMS_DEFAULT_TIMEOUT_MS,
                       .max_body = SMS_MAX_ANSWER};
  httpc_response res;
  if (!httpc_send(a, &req, &res)) {
    set_err(err, errlen, "no answer: %s", res.error ? res.error : "unknown error");
    return NT_RETRY;
  }
  if (res.status >= 200 && res.status < 300) {
    read_id(&res, provider_id, id_cap);
    return NT_SENT;
  }
  char excerpt[SMS_ERR_BODY_MAX + 1];
  body_excerpt(&res, excerpt, sizeof excerpt);
  set_err(err, errlen, "HTTP %ld: %s", res.status, excerpt);
  /* 4xx but 429 is the provider refusing this message (bad number, bad key, too long): final.
   * 429, 5xx and anything unexpected (a redirect) can pass. */
  return res.status >= 400 && res.status < 500 && res.status != 429 ? NT_REJECTED : NT_RETRY;
}
