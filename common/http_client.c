/* Outgoing HTTP(S) on libcurl: one easy handle per thread, reset before each request and reused
 * so its connections stay alive; http/https only, no redirects, bounded in time and answer size. */
#include "common/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTPC_DEFAULT_TIMEOUT_MS 10000
#define HTTPC_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define HTTPC_TOO_LARGE "answer too large"

/* ---- Process and thread state --------------------------------------------------------------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_ready;
/* Each thread's CURL handle; the key's destructor cleans it up when the thread ends. */
static pthread_key_t g_handle_key;

static void handle_free(void *h) { curl_easy_cleanup(h); }

static void global_init_once(void) {
  g_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK && pthread_key_create(&g_handle_key, handle_free) == 0;
}

bool httpc_global_init(void) {
  pthread_once(&g_once, global_init_once);
  return g_ready;
}

/* This thread's handle, created on first use (httpc_send resets it after each request). */
static CURL *thread_handle(void) {
  CURL *h = pthread_getspecific(g_handle_key);
  if (h) return h;
  h = curl_easy_init();
  if (h && pthread_setspecific(g_handle_key, h) != 0) {
    curl_easy_cleanup(h);
    h = NULL;
  }
  return h;
}

/* ---- The answer body ------------------------------------------------------------------------ */

/* The body as it arrives, in a malloc'ed buffer that never grows past max. */
typedef struct {
  char *data;
  size_t len, cap, max;
  bool too_large;
} body_buf;

static size_t on_body(char *chunk, size_t size, size_t n, void *userdata) {
  body_buf *b = userdata;
  size_t got = size * n;
  if (got > b->max - b->len) {
    b->too_large = true;
    return 0; /* curl stops with CURLE_WRITE_ERROR */
  }
  if (b->len + got > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + got) cap *= 2;
    if (cap > b->max) cap = b->max;
    char *grown = realloc(b->data, cap);
    if (!grown) return 0;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, chunk, got);
  b->len += got;
  return got;
}

/* ---- Building the request ------------------------------------------------------------------- */

static bool scheme_allowed(const char *url) {
  return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

/* The caller's headers, plus an empty Expect so a large body is not held back for 100-continue. */
static bool build_headers(const httpc_request *req, struct curl_slist **list) {
  struct curl_slist *l = curl_slist_append(NULL, "Expect:");
  for (size_t i = 0; l && i < HTTPC_MAX_HEADERS && req->headers[i]; i++) {
    struct curl_slist *next = curl_slist_append(l, req->headers[i]);
    if (!next) {
      curl_slist_free_all(l);
      l = NULL;
    } else {
      l = next;
    }
  }
  *list = l;
  return l != NULL;
}

static void set_method(CURL *h, const httpc_request *req) {
  const char *method = req->method && *req->method ? req->method : "GET";
  bool has_body = req->body || strcmp(method, "POST") == 0;
  if (has_body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  else if (strcmp(method, has_body ? "POST" : "GET") != 0)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

static void set_limits(CURL *h, const httpc_request *req, size_t max_body) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms > 0 ? req->timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTPC_DEFAULT_CONNECT_TIMEOUT_MS));
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body); /* refused early on Content-Length */
  curl_easy_setopt(h, CURLOPT_USERAGENT, "metro/1");
}

/* ---- Sending -------------------------------------------------------------------------------- */

static bool fail(arena *a, httpc_response *out, const char *error) {
  out->status = 0;
  out->body = arena_strdup(a, "");
  out->body_len = 0;
  out->error = arena_strdup(a, error);
  return false;
}

bool httpc_send(arena *a, const httpc_request *req, httpc_response *out) {
  memset(out, 0, sizeof *out);
  if (!scheme_allowed(req->url)) return fail(a, out, "unsupported URL scheme (http and https only)");
  if (!req->basic_user != !req->basic_password) return fail(a, out, "basic auth needs a user and a password");
  if (!httpc_global_init()) return fail(a, out, "libcurl did not initialise");
  CURL *h = thread_handle();
  if (!h) return fail(a, out, "no libcurl handle");
  struct curl_slist *headers;
  if (!build_headers(req, &headers)) return fail(a, out, "out of memory");

  body_buf body = {.max = req->max_body ? req->max_body : HTTPC_DEFAULT_MAX_BODY};
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, req->url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  set_method(h, req);
  set_limits(h, req, body.max);
  if (req->basic_user) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, req->basic_user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, req->basic_password);
  }

  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  /* Nothing of this request outlives it in the reused handle (credentials, pointers to our
   * buffers); the connection cache stays, so the next request to the same host reuses it. */
  curl_easy_reset(h);
  curl_slist_free_all(headers);

  bool ok;
  if (body.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    ok = fail(a, out, HTTPC_TOO_LARGE);
  } else if (rc != CURLE_OK) {
    ok = fail(a, out, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  } else {
    out->status = status;
    out->body = arena_strndup(a, body.data ? body.data : "", body.len);
    out->body_len = body.len;
    ok = true;
  }
  free(body.data);
  return ok;
}
