/* Integration-test helpers (see harness.h): environment file, libcurl REST calls,
 * superuser SQL through libpq, process spawning and port probing. */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/identity.h"
#include "common/rpc_client.h"

#define MAX_ENV 256 /* stack.env: every process's addresses, the providers', Mailpit's */

static char *env_keys[MAX_ENV], *env_values[MAX_ENV];
static int n_env;

void harness_init(void) {
  const char *path = getenv("METRO_TEST_ENV");
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) {
    fprintf(stderr, "harness: METRO_TEST_ENV does not name a readable stack.env (%s)\n", path ? path : "unset");
    exit(1);
  }
  char line[2048];
  while (fgets(line, sizeof line, f) && n_env < MAX_ENV) {
    line[strcspn(line, "\r\n")] = '\0';
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    env_keys[n_env] = strdup(line);
    env_values[n_env++] = strdup(eq + 1);
  }
  if (n_env == MAX_ENV && fgets(line, sizeof line, f)) { /* never drop settings silently */
    fprintf(stderr, "harness: %s has more than %d settings\n", path, MAX_ENV);
    exit(1);
  }
  fclose(f);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  signal(SIGPIPE, SIG_IGN);
}

const char *harness_env(const char *key) {
  for (int i = 0; i < n_env; i++)
    if (strcmp(env_keys[i], key) == 0) return env_values[i];
  return NULL;
}

rpc_call_meta harness_signed_meta(arena *a, const char *user_id, const char *role, int ttl_s) {
  char *secret = harness_stack_secret();
  const char *roles[] = {role};
  rpc_call_meta meta = {0};
  bool ok = identity_sign(a, secret, user_id, roles, 1, (int64_t)time(NULL) + ttl_s, &meta.identity_raw,
                          &meta.identity_sig);
  free(secret);
  if (!ok) {
    fprintf(stderr, "harness: cannot sign an identity for %s\n", user_id);
    exit(1);
  }
  return meta;
}

char *harness_stack_secret(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/secrets/identity.secret", harness_env("METRO_STACK_DIR"));
  FILE *f = fopen(path, "r");
  char buf[256] = "";
  if (!f || !fgets(buf, sizeof buf, f)) {
    fprintf(stderr, "harness: cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  buf[strcspn(buf, "\r\n")] = '\0';
  return strdup(buf);
}

typedef struct buffer {
  char *data;
  size_t len;
} buffer;

static size_t on_body(char *p, size_t size, size_t n, void *user) {
  buffer *b = user;
  size_t add = size * n;
  b->data = realloc(b->data, b->len + add + 1);
  memcpy(b->data + b->len, p, add);
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

static char *header_value(const char *line, size_t len, const char *name) {
  size_t n = strlen(name);
  if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':') return NULL;
  const char *v = line + n + 1;
  while (*v == ' ') v++;
  size_t vlen = len - (size_t)(v - line);
  while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n')) vlen--;
  return strndup(v, vlen);
}

static size_t on_header(char *p, size_t size, size_t n, void *user) {
  http_response *r = user;
  size_t len = size * n;
  char *v;
  if ((v = header_value(p, len, "X-Request-Id"))) free(r->request_id), r->request_id = v;
  if ((v = header_value(p, len, "Retry-After"))) free(r->retry_after), r->retry_after = v;
  if ((v = header_value(p, len, "Allow"))) free(r->allow), r->allow = v;
  if ((v = header_value(p, len, "Content-Type"))) free(r->content_type), r->content_type = v;
  if ((v = header_value(p, len, "Access-Control-Allow-Origin"))) free(r->cors_origin), r->cors_origin = v;
  return len;
}

http_response *http_call_at(const char *base, const char *method, const char *path, const char *body,
                            const char *bearer, const char *const *headers) {
  http_response *r = calloc(1, sizeof *r);
  buffer b = {0};
  CURL *c = curl_easy_init();
  char url[4096];
  snprintf(url, sizeof url, "%s%s", base ? base : harness_env("METRO_HTTP"), path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  struct curl_slist *h = NULL;
  if (body) {
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  char auth[4096];
  if (bearer) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
    h = curl_slist_append(h, auth);
  }
  for (const char *const *p = headers; p && *p; p++) h = curl_slist_append(h, *p);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  else r->status = -1;
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  r->body = b.data ? b.data : strdup("");
  r->json = json_loads(r->body, 0, NULL);
  return r;
}

http_response *http_call(const char *method, const char *path, const char *body, const char *bearer) {
  return http_call_at(NULL, method, path, body, bearer, NULL);
}

void http_response_free(http_response *r) {
  if (!r) return;
  json_decref(r->json);
  free(r->body);
  free(r->request_id);
  free(r->retry_after);
  free(r->allow);
  free(r->content_type);
  free(r->cors_origin);
  free(r);
}

static const char *error_info(const http_response *r, const char *key, bool metadata) {
  json_t *details = json_object_get(r->json, "details");
  json_t *info = json_array_get(details, 0);
  if (metadata) info = json_object_get(info, "metadata");
  const char *v = json_string_value(json_object_get(info, key));
  return v ? v : "";
}

const char *error_reason(const http_response *r) { return error_info(r, "reason", false); }
const char *error_field(const http_response *r) { return error_info(r, "field", true); }

const char *json_at(const http_response *r, const char *path) {
  json_t *cur = r->json;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *seg = strtok_r(buf, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save))
    cur = json_object_get(cur, seg);
  const char *v = json_string_value(cur);
  return v ? v : "";
}

const char *unique_name(const char *prefix) {
  static atomic_int counter;
  static _Thread_local char bufs[64][96];
  int i = atomic_fetch_add(&counter, 1);
  char *out = bufs[i % 64];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(out, 96, "%s%d%ld%d", prefix, (int)getpid(), (long)(ts.tv_nsec / 1000), i);
  return out;
}

char *sql_value(const char *query, const char *param) {
  PGconn *c = PQconnectdb(harness_env("METRO_PG_ADMIN_URL"));
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "sql_value: %s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  const char *params[1] = {param};
  PGresult *r = PQexecParams(c, query, param ? 1 : 0, NULL, params, NULL, NULL, 0);
  char *out = NULL;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) out = strdup(PQgetvalue(r, 0, 0));
  else if (PQresultStatus(r) != PGRES_TUPLES_OK) fprintf(stderr, "sql_value: %s", PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
  return out;
}

extern char **environ;

int spawn(const char *program, const char *const *env, const char *log_path) {
  pid_t pid = fork();
  if (pid != 0) return (int)pid;
  for (const char *const *e = env; e && *e; e++) putenv(strdup(*e));
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execl(program, program, (char *)NULL);
  _exit(127);
}

int wait_exit(int pid, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    usleep(10000);
  }
  return -1;
}

int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(s, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &len);
  close(s);
  return ntohs(a.sin_port);
}

bool wait_port(int port, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    if (ok) return true;
    usleep(20000);
  }
  return false;
}
