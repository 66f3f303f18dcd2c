/* Helpers the notification tests share (see notifications.h): Mailpit's API and restarts, the
 * SMS emulator's log, delivery-record counts, template rendering and QR decoding with zbarimg. */
#include "notifications.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ticketing.h"

#define POLL_MS 100

/* ---- small things ---- */

const char *jstr(json_t *obj, const char *key) {
  const char *v = json_string_value(json_object_get(obj, key));
  return v ? v : "";
}

static const char *need_env(const char *key) {
  const char *v = harness_env(key);
  if (!v || !*v) {
    fprintf(stderr, "%s is not in the stack's environment (stack.env): is Mailpit part of the stack?\n", key);
    fail();
  }
  return v;
}

/* A URL-encoded copy (malloc'ed). */
static char *url_escape(const char *s) {
  CURL *c = curl_easy_init();
  char *e = curl_easy_escape(c, s, 0);
  char *out = strdup(e);
  curl_free(e);
  curl_easy_cleanup(c);
  return out;
}

/* A single-quoted SQL literal (malloc'ed). */
static char *sql_literal(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(2 * n + 3), *o = out;
  *o++ = '\'';
  for (const char *p = s; *p; p++) {
    if (*p == '\'') *o++ = '\'';
    *o++ = *p;
  }
  *o++ = '\'';
  *o = '\0';
  return out;
}

/* ---- Mailpit ---- */

static http_response *mailpit_get(const char *path) {
  return http_call_at(need_env("MAILPIT_API"), "GET", path, NULL, NULL, NULL);
}

static json_t *mailpit_json(const char *path) {
  http_response *r = mailpit_get(path);
  if (r->status != 200 || !r->json) fprintf(stderr, "Mailpit GET %s -> %ld: %.400s\n", path, r->status, r->body);
  assert_int_equal(r->status, 200);
  assert_non_null(r->json);
  json_t *j = json_incref(r->json);
  http_response_free(r);
  return j;
}

/* The messages of a Mailpit search (newest first, up to 1000). */
static json_t *mail_search(const char *query) {
  char *q = url_escape(query);
  char path[1024];
  snprintf(path, sizeof path, "/search?query=%s&limit=1000", q);
  free(q);
  json_t *res = mailpit_json(path);
  json_t *msgs = json_incref(json_object_get(res, "messages"));
  json_decref(res);
  return msgs ? msgs : json_array();
}

static bool addressed_to(json_t *msg, const char *address) {
  json_t *to = json_object_get(msg, "To"), *a;
  size_t i;
  json_array_foreach(to, i, a) if (strcasecmp(jstr(a, "Address"), address) == 0) return true;
  return false;
}

json_t *mail_to(const char *address, const char *subject) {
  char query[512];
  snprintf(query, sizeof query, "to:%s", address);
  json_t *all = mail_search(query), *out = json_array(), *m;
  size_t i;
  json_array_foreach(all, i, m) {
    if (addressed_to(m, address) && (!subject || strcmp(jstr(m, "Subject"), subject) == 0))
      json_array_append(out, m);
  }
  json_decref(all);
  return out;
}

size_t mail_count(const char *address, const char *subject) {
  json_t *m = mail_to(address, subject);
  size_t n = json_array_size(m);
  json_decref(m);
  return n;
}

json_t *mail_wait(const char *address, const char *subject, size_t n, int wait_ms) {
  for (int waited = 0;; waited += POLL_MS) {
    json_t *m = mail_to(address, subject);
    if (json_array_size(m) >= n) return m;
    if (waited >= wait_ms) {
      fprintf(stderr, "Mailpit: %zu message(s) to %s%s%s within %d ms, expected %zu\n", json_array_size(m), address,
              subject ? " with subject " : "", subject ? subject : "", wait_ms, n);
      json_t *any = mail_to(address, NULL), *x;
      size_t i;
      json_array_foreach(any, i, x) fprintf(stderr, "  there is: \"%s\"\n", jstr(x, "Subject"));
      json_decref(any);
      char *rows = sql_value("SELECT string_agg(template || ' ' || status || ' attempts=' || attempts || ' ' || "
                             "coalesce(last_error, ''), '; ') FROM notification.notifications WHERE recipient = $1",
                             address);
      fprintf(stderr, "  delivery records: %s\n", rows ? rows : "(none)");
      free(rows);
      json_decref(m);
      fail();
    }
    json_decref(m);
    sleep_ms(POLL_MS);
  }
}

json_t *mail_message(const char *id) {
  char path[256];
  snprintf(path, sizeof path, "/message/%s", id);
  return mailpit_json(path);
}

json_t *mail_headers(const char *id) {
  char path[256];
  snprintf(path, sizeof path, "/message/%s/headers", id);
  return mailpit_json(path);
}

typedef struct bytes {
  char *data;
  size_t len;
} bytes;

static size_t on_bytes(char *p, size_t size, size_t n, void *user) {
  bytes *b = user;
  size_t add = size * n;
  b->data = realloc(b->data, b->len + add + 1);
  memcpy(b->data + b->len, p, add);
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

/* GET of binary content from Mailpit's API; must answer 200. */
static char *mailpit_bytes(const char *path, size_t *len) {
  char url[1024];
  snprintf(url, sizeof url, "%s%s", need_env("MAILPIT_API"), path);
  bytes b = {0};
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_bytes);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  long status = -1;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (status != 200) fprintf(stderr, "Mailpit GET %s -> %ld\n", path, status);
  assert_int_equal(status, 200);
  if (!b.data) b.data = calloc(1, 1);
  *len = b.len;
  return b.data;
}

char *mail_raw(const char *id, size_t *len) {
  char path[256];
  snprintf(path, sizeof path, "/message/%s/raw", id);
  return mailpit_bytes(path, len);
}

uint8_t *mail_part(const char *id, const char *part_id, size_t *len) {
  char path[256];
  snprintf(path, sizeof path, "/message/%s/part/%s", id, part_id);
  return (uint8_t *)mailpit_bytes(path, len);
}

size_t mail_addressed_count(const char *address) {
  char query[512];
  snprintf(query, sizeof query, "addressed:%s", address);
  /* The search matches display names too; count only the messages that name the address as
   * one of their recipients. */
  json_t *all = mail_search(query), *m;
  static const char *const fields[] = {"To", "Cc", "Bcc"};
  size_t i, n = 0;
  json_array_foreach(all, i, m) {
    bool hit = false;
    for (size_t f = 0; f < 3; f++) {
      json_t *list = json_object_get(m, fields[f]), *a;
      size_t k;
      json_array_foreach(list, k, a) hit = hit || strcasecmp(jstr(a, "Address"), address) == 0;
    }
    n += hit;
  }
  json_decref(all);
  return n;
}

bool mailpit_up(void) {
  http_response *r = mailpit_get("/info");
  bool up = r->status == 200;
  http_response_free(r);
  return up;
}

/* Runs scripts/mailpit.sh with args in its own session (so Mailpit outlives this test) and
 * waits for the script; env entries "K=V" are added. Its output goes to the stack's logs. */
static void mailpit_script(const char *const *args, const char *const *env) {
  char script[1024], log_path[1024];
  const char *src = getenv("METRO_SOURCE_DIR");
  assert_non_null(src);
  snprintf(script, sizeof script, "%s/scripts/mailpit.sh", src);
  snprintf(log_path, sizeof log_path, "%s/logs/mailpit-restarts.log", need_env("METRO_STACK_DIR"));
  const char *argv[32] = {"bash", script};
  int argc = 2;
  for (const char *const *a = args; a && *a && argc < 31; a++) argv[argc++] = *a;
  argv[argc] = NULL;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setsid();
    for (const char *const *e = env; e && *e; e++) putenv(strdup(*e));
    int null = open("/dev/null", O_RDONLY), log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(null, 0);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv("/bin/bash", (char *const *)argv);
    _exit(127);
  }
  int rc = wait_exit((int)pid, 120000);
  if (rc != 0) fprintf(stderr, "scripts/mailpit.sh %s exited %d (see %s)\n", args[0], rc, log_path);
  assert_int_equal(rc, 0);
}

static const char *mailpit_dir(char *buf, size_t cap) {
  snprintf(buf, cap, "%s/mailpit", need_env("METRO_STACK_DIR"));
  return buf;
}

void mailpit_stop(void) {
  char dir[1024];
  const char *args[] = {"stop", mailpit_dir(dir, sizeof dir), NULL};
  mailpit_script(args, NULL);
  assert_false(mailpit_up());
}

void mailpit_start(const char *const *flags) {
  char dir[1024], ports_path[1100];
  mailpit_dir(dir, sizeof dir);
  snprintf(ports_path, sizeof ports_path, "%s/mailpit.ports", dir);
  FILE *f = fopen(ports_path, "r");
  int smtp = 0, http = 0;
  if (f) {
    if (fscanf(f, "%d %d", &smtp, &http) != 2) smtp = http = 0;
    fclose(f);
  }
  if (!smtp || !http) fprintf(stderr, "cannot read Mailpit's ports from %s\n", ports_path);
  assert_true(smtp > 0 && http > 0);
  char env_smtp[64], env_http[64];
  snprintf(env_smtp, sizeof env_smtp, "MAILPIT_SMTP_PORT=%d", smtp);
  snprintf(env_http, sizeof env_http, "MAILPIT_HTTP_PORT=%d", http);
  const char *env[] = {env_smtp, env_http, NULL};
  const char *args[32] = {"start", dir};
  int n = 2;
  for (const char *const *fl = flags; fl && *fl && n < 31; fl++) args[n++] = *fl;
  args[n] = NULL;
  mailpit_script(args, env);
  assert_true(mailpit_up());
}

/* ---- SMS ---- */

json_t *sms_to(const char *phone) {
  const char *base = harness_env("PROVIDER_SMS_CONTROL");
  if (!base) {
    fprintf(stderr, "PROVIDER_SMS_CONTROL is not in the stack's environment: start it with METRO_STACK_PROVIDERS=1\n");
    fail();
  }
  char *p = url_escape(phone), path[256];
  snprintf(path, sizeof path, "/messages?to=%s", p);
  free(p);
  http_response *r = http_call_at(base, "GET", path, NULL, NULL, NULL);
  if (r->status != 200) fprintf(stderr, "SMS emulator GET %s -> %ld: %.300s\n", path, r->status, r->body);
  assert_int_equal(r->status, 200);
  json_t *m = json_incref(json_object_get(r->json, "messages"));
  http_response_free(r);
  return m ? m : json_array();
}

/* ---- delivery records ---- */

static char *rows_where(const char *recipient, const char *template_name, const char *status, const char *event_id) {
  char *l[4] = {sql_literal(recipient), template_name ? sql_literal(template_name) : NULL,
                status ? sql_literal(status) : NULL, event_id ? sql_literal(event_id) : NULL};
  size_t cap = 512 + strlen(l[0]) + (l[1] ? strlen(l[1]) : 0) + (l[2] ? strlen(l[2]) : 0) + (l[3] ? strlen(l[3]) : 0);
  char *w = malloc(cap);
  snprintf(w, cap, "recipient = %s%s%s%s%s%s%s%s", l[0], l[1] ? " AND template = " : "", l[1] ? l[1] : "",
           l[2] ? " AND status = " : "", l[2] ? l[2] : "", l[3] ? " AND event_id = " : "", l[3] ? l[3] : "",
           l[3] ? "::uuid" : "");
  for (int i = 0; i < 4; i++) free(l[i]);
  return w;
}

long nt_rows(const char *recipient, const char *template_name, const char *status, const char *event_id) {
  char *w = rows_where(recipient, template_name, status, event_id);
  size_t cap = strlen(w) + 128;
  char *q = malloc(cap);
  snprintf(q, cap, "SELECT count(*) FROM notification.notifications WHERE %s", w);
  long n = sql_count(q, NULL);
  free(q);
  free(w);
  return n;
}

void nt_wait_rows(const char *recipient, const char *template_name, const char *status, long n) {
  long have = 0;
  for (int waited = 0; waited <= MAIL_WAIT_MS; waited += POLL_MS) {
    if ((have = nt_rows(recipient, template_name, status, NULL)) == n) return;
    sleep_ms(POLL_MS);
  }
  fprintf(stderr, "%ld delivery record(s) for %s (template %s, status %s), expected %ld\n", have, recipient,
          template_name ? template_name : "any", status ? status : "any", n);
  fail();
}

char *nt_column(const char *recipient, const char *template_name, const char *column) {
  char *w = rows_where(recipient, template_name, NULL, NULL);
  size_t cap = strlen(w) + strlen(column) + 256;
  char *q = malloc(cap);
  snprintf(q, cap, "SELECT %s FROM notification.notifications WHERE %s ORDER BY created_at DESC LIMIT 1", column, w);
  char *v = sql_value(q, NULL);
  free(q);
  free(w);
  return v;
}

/* ---- templates ---- */

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  bytes b = {0};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) on_bytes(buf, 1, n, &b);
  fclose(f);
  return b.data ? b.data : calloc(1, 1);
}

static void append(bytes *b, const char *s, size_t n) { on_bytes((char *)s, 1, n, b); }

static void append_html(bytes *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': append(b, "&amp;", 5); break;
    case '<': append(b, "&lt;", 4); break;
    case '>': append(b, "&gt;", 4); break;
    case '"': append(b, "&quot;", 6); break;
    case '\'': append(b, "&#39;", 5); break;
    default: append(b, s, 1);
    }
  }
}

char *tmpl_render(const char *name, const char *ext, const tmpl_var *vars, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/svc/notification/templates/%s.%s", getenv("METRO_SOURCE_DIR"), name, ext);
  char *t = read_file(path);
  if (!t) fprintf(stderr, "no template %s\n", path);
  assert_non_null(t);
  size_t len = strlen(t);
  if (len && t[len - 1] == '\n') t[--len] = '\0';
  if (len && t[len - 1] == '\r') t[--len] = '\0';
  bool html = strcmp(ext, "html") == 0;
  bytes out = {0};
  append(&out, "", 0);
  for (const char *p = t; *p;) {
    const char *open = strstr(p, "{{");
    if (!open) {
      append(&out, p, strlen(p));
      break;
    }
    append(&out, p, (size_t)(open - p));
    const char *close = strstr(open + 2, "}}");
    assert_non_null(close);
    size_t k = (size_t)(close - open - 2);
    const char *value = NULL;
    for (size_t i = 0; i < n; i++)
      if (strlen(vars[i].name) == k && strncmp(vars[i].name, open + 2, k) == 0) value = vars[i].value;
    if (!value) fprintf(stderr, "template %s.%s: no value for {{%.*s}}\n", name, ext, (int)k, open + 2);
    assert_non_null(value);
    if (html) append_html(&out, value);
    else append(&out, value, strlen(value));
    p = close + 2;
  }
  free(t);
  return out.data;
}

char *normalize_text(char *s) {
  char *w = s;
  for (char *r = s; *r; r++)
    if (!(r[0] == '\r' && r[1] == '\n')) *w++ = *r;
  *w = '\0';
  while (w > s && (w[-1] == '\n' || w[-1] == '\r')) *--w = '\0';
  return s;
}

/* ---- QR codes ---- */

bool have_zbarimg(void) { return system("command -v zbarimg >/dev/null 2>&1") == 0; }

char *qr_decode(const uint8_t *png, size_t len) {
  char path[] = "/tmp/metro-qr-XXXXXX.png";
  int fd = mkstemps(path, 4);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, png, len), (ssize_t)len);
  close(fd);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "zbarimg --raw -q '%s' 2>/dev/null", path);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  bytes b = {0};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) on_bytes(buf, 1, n, &b);
  pclose(p);
  unlink(path);
  if (!b.data) return NULL;
  normalize_text(b.data);
  if (!*b.data) {
    free(b.data);
    return NULL;
  }
  return b.data;
}
