/* The notification senders (svc/notification: smtp.c, sms.c) against real servers started for
 * this run: Mailpit (scripts/mailpit.sh) for SMTP, the SMS emulator (test/providers/sms.py). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/http_client.h"
#include "svc/notification/notification.h"

extern char **environ;

/* Mailpit takes recipients at example.com only: anyone else gets 550 to RCPT TO. */
#define ALLOWED_RECIPIENTS "@example\\.com$"
#define REFUSED_RECIPIENT "nobody@refused.example"
#define FROM_ADDR "no-reply@metro.example.com"
#define SMS_KEY "test-sms-key-0123456789abcdef"
#define SMS_SENDER "METRO"
#define PASSWORD "s3cret-Passw0rd-never-logged"

static char g_dir[] = "/tmp/metro-nt-senders-XXXXXX";
static bool g_made_dir;
static bool g_mailpit_up;
static pid_t g_sms_pid;
static pid_t g_watchdog_pid;
static int g_watchdog_fd = -1;
static char g_smtp_url[128], g_mailpit_api[128], g_sms_url[128], g_sms_control[128];
static arena *A;

/* ---- Servers -------------------------------------------------------------------------------- */

/* Runs scripts/mailpit.sh VERB on DIR/mailpit; its output goes to DIR/mailpit-sh.log. */
static int mailpit_sh(const char *verb, const char *flags) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "bash '%s/scripts/mailpit.sh' %s '%s/mailpit' %s >>'%s/mailpit-sh.log' 2>&1",
           getenv("METRO_SOURCE_DIR"), verb, g_dir, flags ? flags : "", g_dir);
  return system(cmd);
}

/* The value of KEY in a KEY=value file, into out. */
static bool env_value(const char *path, const char *key, char *out, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  char line[512];
  bool found = false;
  size_t klen = strlen(key);
  while (!found && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, key, klen) == 0 && line[klen] == '=' && strlen(line + klen + 1) < cap) {
      strcpy(out, line + klen + 1);
      found = true;
    }
  }
  fclose(f);
  return found;
}

/* python3 test/providers/sms.py on a free port, logging to DIR/sms.log; waits for its port file. */
static bool start_sms(void) {
  char script[512], port_file[256], log[256];
  snprintf(script, sizeof script, "%s/test/providers/sms.py", getenv("METRO_SOURCE_DIR"));
  snprintf(port_file, sizeof port_file, "%s/sms.port", g_dir);
  snprintf(log, sizeof log, "%s/sms.log", g_dir);
  setenv("SMS_API_KEY", SMS_KEY, 1); /* from the environment, as providers.sh does */
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  char *argv[] = {"python3", script, "--port", "0", "--port-file", port_file, NULL};
  int rc = posix_spawnp(&g_sms_pid, "python3", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  unsetenv("SMS_API_KEY");
  if (rc != 0) {
    g_sms_pid = 0;
    return false;
  }
  for (int i = 0; i < 200; i++) {
    FILE *f = fopen(port_file, "r");
    int port = 0;
    if (f) {
      if (fscanf(f, "%d", &port) != 1) port = 0;
      fclose(f);
    }
    if (port > 0) {
      snprintf(g_sms_url, sizeof g_sms_url, "http://127.0.0.1:%d/v1/messages", port);
      snprintf(g_sms_control, sizeof g_sms_control, "http://127.0.0.1:%d/_control", port);
      return true;
    }
    if (waitpid(g_sms_pid, NULL, WNOHANG) == g_sms_pid) {
      g_sms_pid = 0;
      return false;
    }
    usleep(50 * 1000);
  }
  return false;
}

static void stop_sms(void) {
  if (g_sms_pid <= 0) return;
  kill(g_sms_pid, SIGTERM);
  for (int i = 0; i < 100 && waitpid(g_sms_pid, NULL, WNOHANG) == 0; i++) usleep(50 * 1000);
  if (waitpid(g_sms_pid, NULL, WNOHANG) == 0) {
    kill(g_sms_pid, SIGKILL);
    waitpid(g_sms_pid, NULL, 0);
  }
  g_sms_pid = 0;
}

/* A 127.0.0.1 port nothing listens on (bound, then closed). */
static int closed_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
  close(s);
  return ntohs(sa.sin_port);
}

/* A listening socket that never accepts: connections complete, and nothing is ever said. */
static int black_hole(int *port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(s, 8), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
  *port = ntohs(sa.sin_port);
  return s;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* If this process dies before its teardown (an ASan abort, a crash), a watchdog child stops the
 * servers: it waits on a pipe whose write end only this process holds, and sees EOF without
 * the byte the teardown writes. */
static void start_watchdog(void) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    close(fds[1]);
    char c;
    ssize_t n;
    do n = read(fds[0], &c, 1);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
      /* Orphaned, the emulator is still alive (init has not reaped it): its pid is its own. */
      kill(g_sms_pid, SIGTERM);
      mailpit_sh("stop", NULL);
      char cmd[512];
      snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
      if (!getenv("METRO_KEEP_TEST_DIR") && system(cmd) != 0) _exit(1);
    }
    _exit(0);
  }
  close(fds[0]);
  g_watchdog_pid = pid;
  g_watchdog_fd = fds[1];
}

static void stop_watchdog(void) {
  if (g_watchdog_fd < 0) return;
  if (write(g_watchdog_fd, "d", 1) != 1) fprintf(stderr, "could not stop the watchdog\n");
  close(g_watchdog_fd);
  g_watchdog_fd = -1;
  waitpid(g_watchdog_pid, NULL, 0);
}

static int group_teardown(void **state);

static int group_setup(void **state) {
  (void)state;
  if (!getenv("METRO_SOURCE_DIR") || !mkdtemp(g_dir) || !httpc_global_init()) return -1;
  g_made_dir = true;
  char env_path[256];
  snprintf(env_path, sizeof env_path, "%s/mailpit/env", g_dir);
  g_mailpit_up = mailpit_sh("start", "--smtp-allowed-recipients '" ALLOWED_RECIPIENTS "' --enable-chaos") == 0;
  if (!g_mailpit_up || !env_value(env_path, "METRO_SMTP_URL", g_smtp_url, sizeof g_smtp_url) ||
      !env_value(env_path, "MAILPIT_API", g_mailpit_api, sizeof g_mailpit_api)) {
    fprintf(stderr, "Mailpit did not start; see %s/mailpit-sh.log\n", g_dir);
    group_teardown(state);
    return -1;
  }
  if (!start_sms()) {
    fprintf(stderr, "the SMS emulator did not start; see %s/sms.log\n", g_dir);
    group_teardown(state);
    return -1;
  }
  start_watchdog();
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  stop_sms();
  if (g_mailpit_up) mailpit_sh("stop", NULL);
  g_mailpit_up = false;
  stop_watchdog();
  if (g_made_dir && !getenv("METRO_KEEP_TEST_DIR")) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  }
  g_made_dir = false;
  return 0;
}

static int setup(void **state) {
  (void)state;
  A = arena_create(16384);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  arena_destroy(A);
  return 0;
}

/* ---- HTTP helpers --------------------------------------------------------------------------- */

static void json_free(void *v) { json_decref(v); }

/* method url [body]: the answer, which must have the given status; its JSON lives as long as A. */
static json_t *call_json(const char *method, const char *url, const char *body, long want_status) {
  httpc_request req = {.method = method,
                       .url = url,
                       .headers = {"Content-Type: application/json"},
                       .body = body,
                       .body_len = body ? strlen(body) : 0,
                       .timeout_ms = 10000};
  httpc_response res;
  if (!httpc_send(A, &req, &res) || res.status != want_status)
    fail_msg("%s %s: HTTP %ld %s %s", method, url, res.status, res.body, res.error ? res.error : "");
  json_t *v = json_loadb(res.body, res.body_len, JSON_DECODE_ANY, NULL);
  if (!v) fail_msg("%s %s: not JSON: %s", method, url, res.body);
  arena_defer(A, json_free, v);
  return v;
}

static const char *str_at(json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : "";
}

/* ---- Mailpit -------------------------------------------------------------------------------- */

/* A name no other message of this run has. */
static const char *unique(const char *prefix) {
  static int seq;
  return arena_printf(A, "%s-%d-%ld-%d", prefix, (int)getpid(), (long)time(NULL), ++seq);
}

/* The summary of Mailpit's newest message with this Subject (waits a little), or NULL. */
static json_t *mailpit_find(const char *subject) {
  for (int i = 0; i < 40; i++) {
    json_t *list = call_json("GET", arena_printf(A, "%s/messages?limit=100", g_mailpit_api), NULL, 200);
    size_t idx;
    json_t *m;
    json_array_foreach(json_object_get(list, "messages"), idx, m) {
      if (strcmp(str_at(m, "Subject"), subject) == 0) return m;
    }
    usleep(50 * 1000);
  }
  return NULL;
}

static size_t mailpit_count(void) {
  json_t *list = call_json("GET", arena_printf(A, "%s/messages?limit=1", g_mailpit_api), NULL, 200);
  return (size_t)json_integer_value(json_object_get(list, "messages_count"));
}

static void mailpit_chaos(const char *triggers) {
  call_json("PUT", arena_printf(A, "%s/chaos", g_mailpit_api), triggers, 200);
}

/* A small text/plain message, written by hand (CRLF line ends). */
static const char *plain_message(const char *to, const char *subject, const char *body) {
  return arena_printf(A,
                      "Date: Thu, 15 Jan 2026 10:30:00 +0700\r\n"
                      "From: Metro HCMC <" FROM_ADDR ">\r\n"
                      "To: Rider <%s>\r\n"
                      "Subject: %s\r\n"
                      "Message-ID: <%s@metro.example.com>\r\n"
                      "MIME-Version: 1.0\r\n"
                      "Content-Type: text/plain; charset=UTF-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n"
                      "\r\n"
                      "%s",
                      to, subject, subject, body);
}

static nt_smtp_config smtp_config(void) {
  return (nt_smtp_config){.url = g_smtp_url, .from_addr = FROM_ADDR, .timeout_ms = 5000};
}

static nt_send_result smtp_send(const nt_smtp_config *c, const char *to, const char *msg, char *err, size_t errlen) {
  return nt_smtp_send(c, to, msg, strlen(msg), err, errlen);
}

/* ---- SMTP ----------------------------------------------------------------------------------- */

static void test_smtp_message_arrives(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  const char *to = arena_printf(A, "%s@example.com", unique("rider"));
  const char *subject = unique("Welcome");
  char err[512] = "x";
  assert_int_equal(smtp_send(&c, to, plain_message(to, subject, "Xin chào!\r\nLine two.\r\n"), err, sizeof err),
                   NT_SENT);
  assert_string_equal(err, "");

  json_t *summary = mailpit_find(subject);
  assert_non_null(summary);
  json_t *msg = call_json("GET", arena_printf(A, "%s/message/%s", g_mailpit_api, str_at(summary, "ID")), NULL, 200);
  assert_string_equal(str_at(msg, "Subject"), subject);
  json_t *to_list = json_object_get(msg, "To");
  assert_int_equal(json_array_size(to_list), 1);
  assert_string_equal(str_at(json_array_get(to_list, 0), "Address"), to);
  assert_string_equal(str_at(json_object_get(msg, "From"), "Address"), FROM_ADDR);
  assert_non_null(strstr(str_at(msg, "Text"), "Xin chào!"));
  assert_non_null(strstr(str_at(msg, "Text"), "Line two."));
}

/* Lines that start with a dot survive SMTP's end-of-data marker (curl escapes them). */
static void test_smtp_dot_lines_survive(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  const char *to = "dots@example.com";
  const char *subject = unique("Dots");
  char err[512];
  assert_int_equal(smtp_send(&c, to, plain_message(to, subject, "before\r\n.\r\n..two\r\n.hidden\r\nafter\r\n"), err,
                             sizeof err),
                   NT_SENT);
  json_t *summary = mailpit_find(subject);
  assert_non_null(summary);
  json_t *msg = call_json("GET", arena_printf(A, "%s/message/%s", g_mailpit_api, str_at(summary, "ID")), NULL, 200);
  assert_non_null(strstr(str_at(msg, "Text"), "before\r\n.\r\n..two\r\n.hidden\r\nafter"));
}

/* A 1x1 PNG, the smallest image a mail reader shows. */
static const uint8_t PNG_1X1[] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
                                  0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00,
                                  0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78,
                                  0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x48, 0xaf, 0xa4, 0x71, 0x00,
                                  0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

/* A message from nt_mime_build (UTF-8 subject and names, text, HTML and an inline PNG, as the
 * ticket email has) reads back as it was written. */
static void test_smtp_mime_message_arrives(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  const char *subject = arena_printf(A, "Vé của bạn %s", unique("mime"));
  nt_part png = {.kind = NT_PART_INLINE, .content_type = "image/png", .content_id = "qr@metro.example.com",
                 .filename = "ticket-qr.png", .data = PNG_1X1, .len = sizeof PNG_1X1};
  nt_email e = {.from_name = "Metro HCMC",
                .from_addr = FROM_ADDR,
                .to_name = "Nguyễn Lan",
                .to_addr = "lan@example.com",
                .subject = subject,
                .text = "Vé một chiều: 14.000 ₫",
                .html = "<p>Vé một chiều: <b>14.000 ₫</b></p><img src=\"cid:qr@metro.example.com\">",
                .parts = &png,
                .n_parts = 1,
                .message_id = arena_printf(A, "<%s@metro.example.com>", unique("id")),
                .date_unix = 1768447800};
  char *raw;
  size_t len;
  assert_true(nt_mime_build(A, &e, &raw, &len));
  char err[512];
  assert_int_equal(nt_smtp_send(&c, e.to_addr, raw, len, err, sizeof err), NT_SENT);
  json_t *summary = mailpit_find(subject);
  assert_non_null(summary);
  json_t *msg = call_json("GET", arena_printf(A, "%s/message/%s", g_mailpit_api, str_at(summary, "ID")), NULL, 200);
  assert_string_equal(str_at(json_array_get(json_object_get(msg, "To"), 0), "Name"), "Nguyễn Lan");
  assert_string_equal(str_at(json_array_get(json_object_get(msg, "To"), 0), "Address"), "lan@example.com");
  assert_non_null(strstr(str_at(msg, "Text"), "14.000 ₫"));
  assert_non_null(strstr(str_at(msg, "HTML"), "<b>14.000 ₫</b>"));
  json_t *inl = json_object_get(msg, "Inline");
  assert_int_equal(json_array_size(inl), 1);
  assert_string_equal(str_at(json_array_get(inl, 0), "ContentID"), "qr@metro.example.com");
  assert_string_equal(str_at(json_array_get(inl, 0), "ContentType"), "image/png");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(inl, 0), "Size")), sizeof PNG_1X1);
}

/* The scheduled report's shape (mixed [ related [ alternative, SVG chart ], CSV ]) as a mail
 * reader sees it: the chart inline by its Content-ID, the CSV an attachment whose bytes (CRLF,
 * UTF-8) download unchanged. */
static void test_smtp_report_message_arrives(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  const char *subject = arena_printf(A, "Báo cáo %s", unique("report"));
  static const char SVG[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"></svg>\n";
  static const char CSV[] = "section,metric,value\r\nrevenue,total,14000\r\nstation,name,\"Bến Thành\nga 1\"\r\n";
  const nt_part parts[] = {
      {.kind = NT_PART_ATTACHMENT, .content_type = "text/csv", .charset = "utf-8",
       .filename = "metro-report-2026-12-02.csv", .data = (const uint8_t *)CSV, .len = sizeof CSV - 1},
      {.kind = NT_PART_INLINE, .content_type = "image/svg+xml", .content_id = "chart@metro.example.com",
       .filename = "revenue-by-day.svg", .data = (const uint8_t *)SVG, .len = sizeof SVG - 1},
  };
  nt_email e = {.from_name = "Metro HCMC", .from_addr = FROM_ADDR, .to_addr = "ops@example.com", .subject = subject,
                .text = "Doanh thu: 14.000 ₫", .html = "<p>Doanh thu</p><img src=\"cid:chart@metro.example.com\">",
                .parts = parts, .n_parts = 2, .date_unix = 1768447800};
  char *raw;
  size_t len;
  assert_true(nt_mime_build(A, &e, &raw, &len));
  char err[512];
  assert_int_equal(nt_smtp_send(&c, e.to_addr, raw, len, err, sizeof err), NT_SENT);
  json_t *summary = mailpit_find(subject);
  assert_non_null(summary);
  const char *id = str_at(summary, "ID");
  json_t *msg = call_json("GET", arena_printf(A, "%s/message/%s", g_mailpit_api, id), NULL, 200);
  assert_non_null(strstr(str_at(msg, "HTML"), "cid:chart@metro.example.com"));
  json_t *inl = json_object_get(msg, "Inline");
  assert_int_equal(json_array_size(inl), 1);
  assert_string_equal(str_at(json_array_get(inl, 0), "ContentID"), "chart@metro.example.com");
  assert_string_equal(str_at(json_array_get(inl, 0), "ContentType"), "image/svg+xml");
  json_t *att = json_object_get(msg, "Attachments");
  assert_int_equal(json_array_size(att), 1);
  json_t *csv = json_array_get(att, 0);
  assert_string_equal(str_at(csv, "FileName"), "metro-report-2026-12-02.csv");
  assert_string_equal(str_at(csv, "ContentType"), "text/csv");
  httpc_request req = {.method = "GET",
                       .url = arena_printf(A, "%s/message/%s/part/%s", g_mailpit_api, id, str_at(csv, "PartID")),
                       .timeout_ms = 10000};
  httpc_response res;
  assert_true(httpc_send(A, &req, &res));
  assert_int_equal(res.status, 200);
  assert_int_equal(res.body_len, sizeof CSV - 1);
  assert_memory_equal(res.body, CSV, sizeof CSV - 1);
}

/* 550 to RCPT TO: refused for good, with the server's words in err. */
static void test_smtp_refused_recipient(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  size_t before = mailpit_count();
  char err[512];
  assert_int_equal(smtp_send(&c, REFUSED_RECIPIENT, plain_message(REFUSED_RECIPIENT, unique("Refused"), "x\r\n"), err,
                             sizeof err),
                   NT_REJECTED);
  assert_non_null(strstr(err, "RCPT"));
  assert_non_null(strstr(err, "550"));
  assert_non_null(strstr(err, "mailbox unavailable"));
  assert_int_equal(mailpit_count(), before);
}

/* 451 to RCPT TO (Mailpit's chaos triggers): try again later. */
static void test_smtp_temporary_refusal(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  mailpit_chaos("{\"Recipient\":{\"ErrorCode\":451,\"Probability\":100}}");
  char err[512];
  nt_send_result r = smtp_send(&c, "later@example.com", plain_message("later@example.com", unique("Later"), "x\r\n"),
                               err, sizeof err);
  mailpit_chaos("{}");
  assert_int_equal(r, NT_RETRY);
  assert_non_null(strstr(err, "451"));

  /* 5xx to something other than the recipient (here the sender) is not the message's fault. */
  mailpit_chaos("{\"Sender\":{\"ErrorCode\":550,\"Probability\":100}}");
  r = smtp_send(&c, "later@example.com", plain_message("later@example.com", unique("Later"), "x\r\n"), err,
                sizeof err);
  mailpit_chaos("{}");
  assert_int_equal(r, NT_RETRY);
  assert_non_null(strstr(err, "MAIL answered 550"));
}

/* AUTH when a user is set (Mailpit takes any); a refused login is retried and err never holds
 * the password. */
static void test_smtp_auth(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  c.user = "metro";
  c.password = PASSWORD;
  const char *subject = unique("Auth");
  char err[512];
  assert_int_equal(smtp_send(&c, "auth@example.com", plain_message("auth@example.com", subject, "x\r\n"), err,
                             sizeof err),
                   NT_SENT);
  assert_non_null(mailpit_find(subject));

  mailpit_chaos("{\"Authentication\":{\"ErrorCode\":535,\"Probability\":100}}");
  nt_send_result r =
      smtp_send(&c, "auth@example.com", plain_message("auth@example.com", unique("Auth"), "x\r\n"), err, sizeof err);
  mailpit_chaos("{}");
  assert_int_equal(r, NT_RETRY);
  assert_non_null(strstr(err, "535"));
  assert_null(strstr(err, PASSWORD));
  assert_null(strstr(err, "metro:"));
}

/* require_tls against a server without STARTTLS: nothing is sent, try again (once fixed). */
static void test_smtp_require_tls_refuses_plaintext(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  c.require_tls = true;
  size_t before = mailpit_count();
  char err[512];
  assert_int_equal(smtp_send(&c, "tls@example.com", plain_message("tls@example.com", unique("Tls"), "x\r\n"), err,
                             sizeof err),
                   NT_RETRY);
  assert_true(err[0] != '\0');
  assert_int_equal(mailpit_count(), before);
}

/* Bad addresses and messages are refused before any connection (the URL is dead). */
static void test_smtp_checks_before_sending(void **state) {
  (void)state;
  nt_smtp_config c = smtp_config();
  c.url = arena_printf(A, "smtp://127.0.0.1:%d", closed_port());
  const char *msg = plain_message("x@example.com", "x", "x\r\n");
  char err[512];
  const char *bad[] = {"not an address", "a@b@example.com", "@example.com", "x@", "a<b>@example.com",
                       "x@example.com\r\nRCPT TO:<y@example.com>", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(smtp_send(&c, bad[i], msg, err, sizeof err), NT_REJECTED);
    assert_non_null(strstr(err, "address"));
  }
  assert_int_equal(nt_smtp_send(&c, NULL, msg, strlen(msg), err, sizeof err), NT_REJECTED);
  assert_int_equal(nt_smtp_send(&c, "x@example.com", msg, 0, err, sizeof err), NT_REJECTED);
  assert_int_equal(nt_smtp_send(&c, "x@example.com", NULL, 0, NULL, 0), NT_REJECTED);

  /* Missing settings are this side's to fix: retried. */
  nt_smtp_config none = {0};
  assert_int_equal(smtp_send(&none, "x@example.com", msg, err, sizeof err), NT_RETRY);
  nt_smtp_config http = smtp_config();
  http.url = "http://127.0.0.1:1/";
  assert_int_equal(smtp_send(&http, "x@example.com", msg, err, sizeof err), NT_RETRY);
  nt_smtp_config no_from = smtp_config();
  no_from.from_addr = "no sender";
  assert_int_equal(smtp_send(&no_from, "x@example.com", msg, err, sizeof err), NT_RETRY);
  assert_int_equal(nt_smtp_send(NULL, "x@example.com", msg, strlen(msg), err, sizeof err), NT_RETRY);
}

/* A server that accepts the connection and never greets: retried once timeout_ms has passed. */
static void test_smtp_silent_server_times_out(void **state) {
  (void)state;
  int port;
  int s = black_hole(&port);
  nt_smtp_config c = smtp_config();
  c.url = arena_printf(A, "smtp://127.0.0.1:%d", port);
  c.timeout_ms = 500;
  char err[512];
  int64_t t0 = now_ms();
  nt_send_result r = smtp_send(&c, "x@example.com", plain_message("x@example.com", "x", "x\r\n"), err, sizeof err);
  int64_t took = now_ms() - t0;
  close(s);
  assert_int_equal(r, NT_RETRY);
  assert_true(took >= 400 && took < 3000);
  assert_non_null(strstr(err, "imeout"));
}

/* Mailpit stopped: the connection is refused, and the message is retried at once. Last, since
 * it stops the server. */
static void test_smtp_server_down(void **state) {
  (void)state;
  assert_int_equal(mailpit_sh("stop", NULL), 0);
  g_mailpit_up = false;
  nt_smtp_config c = smtp_config();
  char err[512];
  int64_t t0 = now_ms();
  assert_int_equal(smtp_send(&c, "down@example.com", plain_message("down@example.com", "x", "x\r\n"), err, sizeof err),
                   NT_RETRY);
  assert_true(now_ms() - t0 < c.timeout_ms);
  assert_non_null(strstr(err, "connect"));
}

/* ---- SMS ------------------------------------------------------------------------------------ */

static nt_sms_config sms_config(void) {
  return (nt_sms_config){.api_url = g_sms_url, .api_key = SMS_KEY, .sender = SMS_SENDER, .timeout_ms = 5000};
}

static size_t sms_requests(void) {
  json_t *r = call_json("GET", arena_printf(A, "%s/requests", g_sms_control), NULL, 200);
  return json_array_size(json_object_get(r, "requests"));
}

static void sms_control(const char *path, const char *body) {
  call_json("POST", arena_printf(A, "%s%s", g_sms_control, path), body, 200);
}

static void test_sms_sent(void **state) {
  (void)state;
  nt_sms_config c = sms_config();
  const char *text = arena_printf(A, "Metro: mã OTP của bạn là 482913 (%s)", unique("otp"));
  char id[64] = "x", err[256] = "x";
  assert_int_equal(nt_sms_send(A, &c, "+84901234567", text, id, sizeof id, err, sizeof err), NT_SENT);
  assert_string_equal(err, "");
  assert_int_equal(strncmp(id, "SM", 2), 0);
  assert_true(strlen(id) > 10);

  json_t *list = call_json("GET", arena_printf(A, "%s/messages?to=%%2B84901234567", g_sms_control), NULL, 200);
  json_t *last = json_array_get(json_object_get(list, "messages"), json_array_size(json_object_get(list, "messages")) - 1);
  assert_non_null(last);
  assert_string_equal(str_at(last, "id"), id);
  assert_string_equal(str_at(last, "to"), "+84901234567");
  assert_string_equal(str_at(last, "from"), SMS_SENDER);
  assert_string_equal(str_at(last, "text"), text);

  /* Without '+', and the provider's id cut to a small buffer. */
  char small[6];
  assert_int_equal(nt_sms_send(A, &c, "0901234567", "Metro: test", small, sizeof small, err, sizeof err), NT_SENT);
  assert_int_equal(strlen(small), sizeof small - 1);
  assert_int_equal(strncmp(small, "SM", 2), 0);
}

static void test_sms_wrong_key_rejected(void **state) {
  (void)state;
  nt_sms_config c = sms_config();
  c.api_key = "not-the-key";
  char id[64], err[256];
  assert_int_equal(nt_sms_send(A, &c, "+84901234567", "Metro: test", id, sizeof id, err, sizeof err), NT_REJECTED);
  assert_non_null(strstr(err, "401"));
  assert_non_null(strstr(err, "unauthorized"));
  assert_null(strstr(err, "not-the-key"));
  assert_string_equal(id, "");
}

static void test_sms_provider_refusals(void **state) {
  (void)state;
  nt_sms_config c = sms_config();
  char id[64], err[256];
  /* Over 1600 characters: 400 from the provider. */
  char *long_text = arena_alloc(A, 1702);
  memset(long_text, 'a', 1701);
  assert_int_equal(nt_sms_send(A, &c, "+84901234567", long_text, id, sizeof id, err, sizeof err), NT_REJECTED);
  assert_non_null(strstr(err, "400"));
  /* 429 passes: retried. */
  sms_control("/outcome", "{\"to\":\"+84900000429\",\"status\":429,\"error\":\"rate_limited\",\"count\":1}");
  assert_int_equal(nt_sms_send(A, &c, "+84900000429", "Metro: test", id, sizeof id, err, sizeof err), NT_RETRY);
  assert_non_null(strstr(err, "429"));
  assert_int_equal(nt_sms_send(A, &c, "+84900000429", "Metro: test", id, sizeof id, err, sizeof err), NT_SENT);
  /* Another 4xx is final. */
  sms_control("/outcome", "{\"to\":\"+84900000403\",\"status\":403,\"error\":\"blocked\",\"count\":1}");
  assert_int_equal(nt_sms_send(A, &c, "+84900000403", "Metro: test", id, sizeof id, err, sizeof err), NT_REJECTED);
  assert_non_null(strstr(err, "blocked"));
}

static void test_sms_provider_down_retried(void **state) {
  (void)state;
  nt_sms_config c = sms_config();
  char id[64], err[256];
  sms_control("/down", "{\"mode\":\"503\"}");
  nt_send_result r503 = nt_sms_send(A, &c, "+84901234567", "Metro: test", id, sizeof id, err, sizeof err);
  sms_control("/down", "{\"mode\":\"drop\"}");
  char err_drop[256];
  nt_send_result rdrop = nt_sms_send(A, &c, "+84901234567", "Metro: test", id, sizeof id, err_drop, sizeof err_drop);
  sms_control("/down", "{\"mode\":\"up\"}");
  assert_int_equal(r503, NT_RETRY);
  assert_non_null(strstr(err, "503"));
  assert_int_equal(rdrop, NT_RETRY);
  assert_true(err_drop[0] != '\0');
  assert_int_equal(nt_sms_send(A, &c, "+84901234567", "Metro: back up", id, sizeof id, err, sizeof err), NT_SENT);

  /* Nothing listening, and a server that never answers (within timeout_ms). */
  c.api_url = arena_printf(A, "http://127.0.0.1:%d/v1/messages", closed_port());
  assert_int_equal(nt_sms_send(A, &c, "+84901234567", "Metro: test", id, sizeof id, err, sizeof err), NT_RETRY);
  int port;
  int s = black_hole(&port);
  c.api_url = arena_printf(A, "http://127.0.0.1:%d/v1/messages", port);
  c.timeout_ms = 500;
  int64_t t0 = now_ms();
  nt_send_result r = nt_sms_send(A, &c, "+84901234567", "Metro: test", id, sizeof id, err, sizeof err);
  int64_t took = now_ms() - t0;
  close(s);
  assert_int_equal(r, NT_RETRY);
  assert_true(took >= 400 && took < 3000);
}

/* Bad numbers and texts are refused before anything is sent. */
static void test_sms_checks_before_sending(void **state) {
  (void)state;
  nt_sms_config c = sms_config();
  size_t before = sms_requests();
  char id[64], err[256];
  const char *bad[] = {"12345678", "+1234567890123456", "+84 901 234 567", "++84901234567", "84901234567x", "", "+"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(nt_sms_send(A, &c, bad[i], "Metro: test", id, sizeof id, err, sizeof err), NT_REJECTED);
    assert_non_null(strstr(err, "phone"));
  }
  assert_int_equal(nt_sms_send(A, &c, NULL, "Metro: test", id, sizeof id, err, sizeof err), NT_REJECTED);
  assert_int_equal(nt_sms_send(A, &c, "+84901234567", "", id, sizeof id, err, sizeof err), NT_REJECTED);
  assert_int_equal(nt_sms_send(A, &c, "+84901234567", "bad \xff utf-8", id, sizeof id, err, sizeof err), NT_REJECTED);
  assert_int_equal(sms_requests(), before);
  /* Missing settings: retried once fixed. */
  nt_sms_config none = {0};
  assert_int_equal(nt_sms_send(A, &none, "+84901234567", "Metro: test", id, sizeof id, err, sizeof err), NT_RETRY);
  assert_int_equal(nt_sms_send(A, NULL, "+84901234567", "Metro: test", NULL, 0, NULL, 0), NT_RETRY);
  /* 9 and 15 digits are the bounds. */
  assert_int_equal(nt_sms_send(A, &c, "123456789", "Metro: test", id, sizeof id, err, sizeof err), NT_SENT);
  assert_int_equal(nt_sms_send(A, &c, "+123456789012345", "Metro: test", id, sizeof id, err, sizeof err), NT_SENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sms_sent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sms_wrong_key_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sms_provider_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sms_provider_down_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sms_checks_before_sending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_message_arrives, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_dot_lines_survive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_mime_message_arrives, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_report_message_arrives, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_refused_recipient, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_temporary_refusal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_auth, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_require_tls_refuses_plaintext, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_checks_before_sending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_silent_server_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_smtp_server_down, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
