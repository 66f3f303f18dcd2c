/* The scheduler end to end: jobs listed, an unpaid ticket expired by a triggered run, failing targets
 * recorded, 2 then 3 replicas running each slot once (calls counted), a replica killed holding a lease. */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/identity.h"
#include "common/rpc_client.h"
#include "harness.h"
#include "metro/scheduler/v1/scheduler.pb-c.h"
#include "ticketing.h"

#define ADMIN_ID "00000000-0000-4000-8000-000000000001"
#define N_JOBS 9
#define WAIT_MS 60000

static char admin_token[2048], admin_id[64];
static char ticket_target[64];     /* the private ticket service the replicas call */
static int ticket_pid, ticket_metrics_port;
static char dead_target[64];       /* nothing listens here */

/* ---- helpers ---- */

static void login_admin(void) {
  char body[512];
  snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", getenv("METRO_TEST_ADMIN_EMAIL"),
           getenv("METRO_TEST_ADMIN_PASSWORD"));
  http_response *r = call_ok("POST", "/v1/auth/login", body, NULL);
  snprintf(admin_token, sizeof admin_token, "%s", json_at(r, "accessToken"));
  snprintf(admin_id, sizeof admin_id, "%s", json_at(r, "user.userId"));
  http_response_free(r);
}

static long count_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long count_sql(const char *fmt, ...) {
  char q[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(q, sizeof q, fmt, ap);
  va_end(ap);
  return sql_count(q, NULL);
}

static char *sql_value_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sql_value_fmt(const char *fmt, ...) {
  char q[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(q, sizeof q, fmt, ap);
  va_end(ap);
  return sql_value(q, NULL);
}

static const char *member_str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

/* The job's object in a GET /v1/jobs answer, or NULL. */
static json_t *find_job(const http_response *r, const char *name) {
  json_t *jobs = json_object_get(r->json, "jobs"), *j;
  size_t i;
  json_array_foreach(jobs, i, j) if (strcmp(member_str(j, "name"), name) == 0) return j;
  return NULL;
}

static http_response *trigger_rest(const char *job) {
  char path[160];
  snprintf(path, sizeof path, "/v1/jobs/%s:trigger", job);
  return call_ok("POST", path, "{}", admin_token);
}

static void set_enabled(const char *job, bool enabled) {
  char path[160];
  snprintf(path, sizeof path, "/v1/jobs/%s:%s", job, enabled ? "enable" : "disable");
  http_response *r = call_ok("POST", path, "{}", admin_token);
  assert_int_equal(json_is_true(json_object_get(r->json, "enabled")), enabled);
  http_response_free(r);
}

/* A scheduler replica on the stack's database: its own ports, name and extra settings
 * ("K=V", NULL-terminated); its pid, and its gRPC port into grpc_port (may be NULL). */
static int start_replica(const char *name, const char *const *extra, int *grpc_port) {
  int port = free_port();
  char *secret = harness_stack_secret();
  char env[32][1024];
  int n = 0;
  snprintf(env[n++], sizeof env[0], "METRO_GRPC_ADDR=127.0.0.1:%d", port);
  snprintf(env[n++], sizeof env[0], "METRO_METRICS_PORT=%d", free_port());
  snprintf(env[n++], sizeof env[0], "METRO_PG_URL=%s", harness_env("METRO_SCHEDULER_PG_URL"));
  snprintf(env[n++], sizeof env[0], "METRO_IDENTITY_SECRET=%s", secret);
  snprintf(env[n++], sizeof env[0], "METRO_REDIS_PORT=%s", harness_env("METRO_REDIS_PORT"));
  snprintf(env[n++], sizeof env[0], "METRO_SCHEDULER_REPLICA=%s", name);
  snprintf(env[n++], sizeof env[0], "METRO_TICKET_GRPC=%s", ticket_target);
  snprintf(env[n++], sizeof env[0], "METRO_PAYMENT_GRPC=%s", harness_env("METRO_PAYMENT_GRPC"));
  snprintf(env[n++], sizeof env[0], "METRO_PUBLIC_GRPC=%s", harness_env("METRO_PUBLIC_GRPC"));
  /* Control and report are down for the replicas: their jobs must fail, never crash. */
  snprintf(env[n++], sizeof env[0], "METRO_CONTROL_GRPC=%s", dead_target);
  snprintf(env[n++], sizeof env[0], "METRO_REPORT_GRPC=%s", dead_target);
  snprintf(env[n++], sizeof env[0], "METRO_SCHEDULER_TICK_MS=200");
  const char *kafka = harness_env("METRO_KAFKA_BROKERS");
  if (kafka) snprintf(env[n++], sizeof env[0], "METRO_KAFKA_BROKERS=%s", kafka);
  free(secret);
  for (const char *const *e = extra; e && *e && n < 31; e++) snprintf(env[n++], sizeof env[0], "%s", *e);
  const char *argv_env[33];
  for (int i = 0; i < n; i++) argv_env[i] = env[i];
  argv_env[n] = NULL;
  char program[1024], log[1024];
  snprintf(program, sizeof program, "%s/svc/scheduler/metro-scheduler", getenv("METRO_BUILD_DIR"));
  snprintf(log, sizeof log, "%s/logs/scheduler-%s.log", harness_env("METRO_STACK_DIR"), name);
  int pid = spawn(program, argv_env, log);
  assert_true(wait_port(port, 20000));
  if (grpc_port) *grpc_port = port;
  return pid;
}

static void stop_process(int pid) {
  kill(pid, SIGTERM);
  int code = wait_exit(pid, 20000);
  if (code < 0) {
    kill(pid, SIGKILL);
    wait_exit(pid, 5000);
  }
  assert_int_equal(code, 0);
}

/* A second ticket service on the stack's database, so the job calls the replicas make are
 * counted on its metrics alone. */
static void start_ticket_service(void) {
  int port = free_port();
  ticket_metrics_port = free_port();
  snprintf(ticket_target, sizeof ticket_target, "127.0.0.1:%d", port);
  char *secret = harness_stack_secret();
  char env[16][1024];
  int n = 0;
  snprintf(env[n++], sizeof env[0], "METRO_GRPC_ADDR=%s", ticket_target);
  snprintf(env[n++], sizeof env[0], "METRO_METRICS_PORT=%d", ticket_metrics_port);
  snprintf(env[n++], sizeof env[0], "METRO_PG_URL=%s", harness_env("METRO_TICKET_PG_URL"));
  snprintf(env[n++], sizeof env[0], "METRO_IDENTITY_SECRET=%s", secret);
  snprintf(env[n++], sizeof env[0], "METRO_REDIS_PORT=%s", harness_env("METRO_REDIS_PORT"));
  snprintf(env[n++], sizeof env[0], "METRO_TRANSPORT_GRPC=%s", harness_env("METRO_TRANSPORT_GRPC"));
  snprintf(env[n++], sizeof env[0], "METRO_USER_GRPC=%s", harness_env("METRO_USER_GRPC"));
  snprintf(env[n++], sizeof env[0], "METRO_AUTH_GRPC=%s", harness_env("METRO_AUTH_GRPC"));
  snprintf(env[n++], sizeof env[0], "METRO_QR_KEY_FILE=%s/secrets/qr-ed25519.pem", harness_env("METRO_STACK_DIR"));
  snprintf(env[n++], sizeof env[0], "METRO_ABUSE_MIN_INTERVAL_MS=0");
  snprintf(env[n++], sizeof env[0], "METRO_STATION_CACHE_MS=0");
  const char *kafka = harness_env("METRO_KAFKA_BROKERS");
  if (kafka) snprintf(env[n++], sizeof env[0], "METRO_KAFKA_BROKERS=%s", kafka);
  free(secret);
  const char *argv_env[17];
  for (int i = 0; i < n; i++) argv_env[i] = env[i];
  argv_env[n] = NULL;
  char program[1024], log[1024];
  snprintf(program, sizeof program, "%s/svc/ticket/metro-ticket", getenv("METRO_BUILD_DIR"));
  snprintf(log, sizeof log, "%s/logs/ticket-scheduler-test.log", harness_env("METRO_STACK_DIR"));
  ticket_pid = spawn(program, argv_env, log);
  assert_true(wait_port(port, 20000));
}

/* Calls of one ticket job method the private ticket service has answered, any code. */
static long ticket_calls(const char *method) {
  char base[64], needle[160];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", ticket_metrics_port);
  snprintf(needle, sizeof needle, "grpc_service=\"metro.ticket.v1.TicketService\",grpc_method=\"%s\",", method);
  http_response *r = http_call_at(base, "GET", "/metrics", NULL, NULL, NULL);
  assert_int_equal(r->status, 200);
  long total = 0;
  for (const char *p = r->body; p && *p;) {
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char line[1024];
    if (len < sizeof line) {
      memcpy(line, p, len);
      line[len] = '\0';
      const char *sp = strrchr(line, ' ');
      if (strncmp(line, "grpc_server_handled_total{", 26) == 0 && strstr(line, needle) && sp)
        total += atol(sp + 1);
    }
    p = end ? end + 1 : NULL;
  }
  http_response_free(r);
  return total;
}

/* TriggerJob straight to a replica over gRPC, as an admin; the run or the error status. */
static rpc_status trigger_grpc(arena *a, int port, const char *job, int timeout_ms,
                               Metro__Scheduler__V1__JobRun **run) {
  rpc_call_meta meta = harness_signed_meta(a, ADMIN_ID, "admin", 120);
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%d", port);
  Metro__Scheduler__V1__TriggerJobRequest req = METRO__SCHEDULER__V1__TRIGGER_JOB_REQUEST__INIT;
  req.name = (char *)job;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(target), a, "/metro.scheduler.v1.SchedulerService/TriggerJob", &meta,
                                 &req.base, &metro__scheduler__v1__job_run__descriptor, &resp, timeout_ms, INT64_MAX);
  *run = (Metro__Scheduler__V1__JobRun *)resp;
  return st;
}

/* Unix seconds of local midnight today (Asia/Ho_Chi_Minh). */
static int64_t local_midnight(void) {
  int64_t now = (int64_t)time(NULL);
  return (now + 7 * 3600) / 86400 * 86400 - 7 * 3600;
}

static int setup(void **state) {
  (void)state;
  harness_init();
  login_admin();
  snprintf(dead_target, sizeof dead_target, "127.0.0.1:%d", free_port());
  start_ticket_service();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (ticket_pid > 0) {
    kill(ticket_pid, SIGTERM);
    if (wait_exit(ticket_pid, 15000) < 0) kill(ticket_pid, SIGKILL);
  }
  rpc_client_shutdown();
  return 0;
}

/* ---- the admin API ---- */

static void test_jobs_are_listed_with_schedules_targets_and_pages(void **state) {
  (void)state;
  http_response *r = call_ok("GET", "/v1/jobs", NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "jobs")), N_JOBS);
  static const struct {
    const char *name, *schedule, *method;
    bool enabled;
  } want[N_JOBS] = {
      {"pass-auto-activation", "every 5m", "/metro.ticket.v1.TicketService/AutoActivatePasses", true},
      {"unpaid-expiry", "every 1m", "/metro.ticket.v1.TicketService/ExpireUnpaid", true},
      {"ticket-expiry", "every 10m", "/metro.ticket.v1.TicketService/ExpireEnded", true},
      {"expiring-soon", "daily 08:00", "/metro.ticket.v1.TicketService/NotifyExpiringSoon", true},
      {"promotion-expiry", "hourly :00", "/metro.ticket.v1.TicketService/ExpirePromotions", true},
      {"refund-retry", "every 15m", "/metro.payment.v1.PaymentService/RetryRefunds", true},
      {"schedule-generation", "daily 03:00", "/metro.control.v1.ControlService/GenerateSchedules", true},
      {"report-schedules", "every 1m", "/metro.report.v1.ReportService/RunDueSchedules", true},
      {"public-cache-refresh", "hourly :00", "/metro.public.v1.PublicService/FlushCache", true},
  };
  for (int i = 0; i < N_JOBS; i++) {
    json_t *j = json_array_get(json_object_get(r->json, "jobs"), (size_t)i);
    assert_string_equal(member_str(j, "name"), want[i].name);
    assert_string_equal(member_str(j, "schedule"), want[i].schedule);
    assert_string_equal(member_str(j, "method"), want[i].method);
    assert_int_equal(json_is_true(json_object_get(j, "enabled")), want[i].enabled);
    /* Enabled jobs say when they run next; a disabled one does not. */
    assert_int_equal(json_object_get(j, "nextRunTime") != NULL, want[i].enabled);
  }
  json_t *pass = find_job(r, "pass-auto-activation");
  assert_int_equal((long)json_number_value(json_object_get(json_object_get(pass, "request"), "batchSize")), 500);
  json_t *gen = find_job(r, "schedule-generation");
  assert_int_equal((long)json_number_value(json_object_get(json_object_get(gen, "request"), "days")), 30);
  http_response_free(r);

  /* Pages of 4: 4 + 4 + 1, each token continuing where the last page ended. */
  char path[512], token[256] = "";
  int seen = 0;
  for (int page = 0; page < 3; page++) {
    snprintf(path, sizeof path, "/v1/jobs?pageSize=4%s%s", *token ? "&pageToken=" : "", token);
    r = call_ok("GET", path, NULL, admin_token);
    size_t n = json_array_size(json_object_get(r->json, "jobs"));
    assert_int_equal(n, page < 2 ? 4 : 1);
    seen += (int)n;
    snprintf(token, sizeof token, "%s", json_at(r, "nextPageToken"));
    assert_int_equal(*token != '\0', page < 2);
    http_response_free(r);
  }
  assert_int_equal(seen, N_JOBS);

  r = call_ok("GET", "/v1/jobs/unpaid-expiry", NULL, admin_token);
  assert_string_equal(json_at(r, "schedule"), "every 1m");
  http_response_free(r);
  expect_error("GET", "/v1/jobs/no-such-job", NULL, admin_token, 404, "JOB_NOT_FOUND", NULL);
  expect_error("POST", "/v1/jobs/no-such-job:trigger", "{}", admin_token, 404, "JOB_NOT_FOUND", NULL);
  expect_error("GET", "/v1/jobs/no-such-job/runs", NULL, admin_token, 404, "JOB_NOT_FOUND", NULL);
  expect_error("GET", "/v1/jobs/unpaid-expiry/runs?pageToken=bogus", NULL, admin_token, 400, "INVALID_PAGE_TOKEN",
               "pageToken");
  expect_error("GET", "/v1/jobs", NULL, NULL, 401, NULL, NULL);
  rider p;
  new_rider(&p);
  expect_error("GET", "/v1/jobs", NULL, p.access, 403, NULL, NULL);
  expect_error("POST", "/v1/jobs/unpaid-expiry:trigger", "{}", p.access, 403, NULL, NULL);
}

/* ---- a triggered run does the job ---- */

static void test_a_triggered_unpaid_expiry_expires_the_ticket_and_releases_its_promotion(void **state) {
  (void)state;
  rider p;
  new_rider(&p);
  char code[64], body[1024];
  const char *c = unique_name("SCHED");
  snprintf(code, sizeof code, "%.40s", c);
  for (char *s = code; *s; s++) *s = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
  snprintf(body, sizeof body,
           "{\"promotionCode\":\"%s\",\"name\":\"Scheduler test\",\"type\":\"percentage\",\"value\":10,"
           "\"validFrom\":\"2020-01-01T00:00:00Z\",\"validUntil\":\"2099-01-01T00:00:00Z\"}",
           code);
  http_response_free(call_ok("POST", "/v1/promotions", body, admin_token));
  snprintf(body, sizeof body,
           "{\"originStationId\":\"ben-thanh\",\"destinationStationId\":\"ba-son\",\"tripType\":\"oneway\","
           "\"passengers\":{\"adult\":1},\"promotionCode\":\"%s\",\"paymentMethod\":\"vnpay\"}",
           code);
  http_response *r = call_ok("POST", "/v1/tickets", body, p.access);
  assert_string_equal(json_at(r, "status"), "pending_payment");
  char ticket[64];
  snprintf(ticket, sizeof ticket, "%s", json_at(r, "ticketId"));
  http_response_free(r);
  sql_exec("UPDATE ticket.tickets SET payment_deadline = now() - interval '1 minute' WHERE ticket_id = $1::uuid "
           "RETURNING 1",
           ticket);

  r = trigger_rest("unpaid-expiry");
  assert_string_equal(json_at(r, "job"), "unpaid-expiry");
  assert_string_equal(json_at(r, "outcome"), "succeeded");
  assert_string_equal(json_at(r, "trigger"), "manual");
  assert_string_equal(json_at(r, "triggeredBy"), admin_id);
  assert_string_equal(json_at(r, "error"), "");
  assert_int_equal(json_int(r, "attempts"), 1);
  assert_non_null(json_object_get(r->json, "finishedAt"));
  assert_true(json_number_value(json_object_get(json_object_get(r->json, "response"), "processed")) >= 1);
  char run_id[64];
  snprintf(run_id, sizeof run_id, "%s", json_at(r, "runId"));
  http_response_free(r);

  wait_status(p.access, ticket, "expired");
  char *st = sql_value("SELECT status FROM ticket.promotion_redemptions WHERE ticket_id = $1::uuid", ticket);
  assert_non_null(st);
  assert_string_equal(st, "released");
  free(st);

  /* The run is recorded: the newest of the job's runs, and on the job as its last run. */
  r = trigger_rest("unpaid-expiry"); /* a second one, so there are two pages of one */
  assert_string_equal(json_at(r, "outcome"), "succeeded");
  char second[64];
  snprintf(second, sizeof second, "%s", json_at(r, "runId"));
  http_response_free(r);
  r = call_ok("GET", "/v1/jobs/unpaid-expiry/runs?pageSize=1", NULL, admin_token);
  assert_int_equal(json_array_size(json_object_get(r->json, "runs")), 1);
  assert_string_equal(member_str(json_array_get(json_object_get(r->json, "runs"), 0), "runId"), second);
  char path[512];
  snprintf(path, sizeof path, "/v1/jobs/unpaid-expiry/runs?pageSize=1&pageToken=%s", json_at(r, "nextPageToken"));
  http_response_free(r);
  r = call_ok("GET", path, NULL, admin_token);
  assert_string_equal(member_str(json_array_get(json_object_get(r->json, "runs"), 0), "runId"), run_id);
  http_response_free(r);
  r = call_ok("GET", "/v1/jobs/unpaid-expiry", NULL, admin_token);
  assert_string_equal(json_at(r, "lastRun.runId"), second);
  http_response_free(r);
}

/* ---- failing targets are recorded, never crash ---- */

static void expect_failed(const Metro__Scheduler__V1__JobRun *run, const char *code_a, const char *code_b) {
  assert_non_null(run);
  assert_string_equal(run->outcome, "failed");
  assert_non_null(run->finished_at);
  if (strncmp(run->error, code_a, strlen(code_a)) != 0 && (!code_b || strncmp(run->error, code_b, strlen(code_b)) != 0))
    fail_msg("%s: unexpected error \"%s\"", run->job, run->error);
}

static void test_a_missing_or_down_target_is_recorded_failed(void **state) {
  (void)state;
  /* A replica whose public service is the echo test server (no PublicService there: UNIMPLEMENTED)
   * and whose payment service is down (UNAVAILABLE), like report for every replica. */
  char pub[128], pay[128];
  snprintf(pub, sizeof pub, "METRO_PUBLIC_GRPC=%s", harness_env("METRO_ECHO_GRPC"));
  snprintf(pay, sizeof pay, "METRO_PAYMENT_GRPC=%s", dead_target);
  const char *extra[] = {"METRO_SCHEDULER_TICKER=false", pub, pay, NULL};
  int port, pid = start_replica("failing", extra, &port);
  arena *a = arena_create(8192);
  Metro__Scheduler__V1__JobRun *run;
  assert_true(rpc_ok(trigger_grpc(a, port, "public-cache-refresh", 20000, &run)));
  expect_failed(run, "UNIMPLEMENTED", NULL);
  assert_true(rpc_ok(trigger_grpc(a, port, "refund-retry", 20000, &run)));
  expect_failed(run, "UNAVAILABLE", NULL);
  /* Control is down for the replica (or not built yet: its method is then unknown). */
  assert_true(rpc_ok(trigger_grpc(a, port, "schedule-generation", 20000, &run)));
  expect_failed(run, "UNAVAILABLE", "UNIMPLEMENTED");
  assert_true(rpc_ok(trigger_grpc(a, port, "report-schedules", 20000, &run)));
  expect_failed(run, "UNAVAILABLE", NULL);
  assert_int_equal(wait_exit(pid, 0), -1); /* still running */
  arena_destroy(a);
  stop_process(pid);

  /* The stack's own replica, over REST, reaches the report service: the run succeeds. */
  http_response *r = trigger_rest("report-schedules");
  assert_string_equal(json_at(r, "outcome"), "succeeded");
  http_response_free(r);
}

/* ---- exactly once across replicas ---- */

static const char *const ticket_jobs[][2] = {
    {"unpaid-expiry", "ExpireUnpaid"},           {"pass-auto-activation", "AutoActivatePasses"},
    {"ticket-expiry", "ExpireEnded"},            {"expiring-soon", "NotifyExpiringSoon"},
    {"promotion-expiry", "ExpirePromotions"},
};
#define N_TICKET_JOBS (sizeof ticket_jobs / sizeof ticket_jobs[0])

static long runs_in(const char *job, int64_t from, int64_t to, const char *extra_sql) {
  return count_sql("SELECT count(*) FROM scheduler.runs WHERE job = '%s' AND scheduled_for >= to_timestamp(%lld) "
                   "AND scheduled_for <= to_timestamp(%lld)%s",
                   job, (long long)from, (long long)to, extra_sql ? extra_sql : "");
}

static bool slot_recorded(const char *job, int64_t slot) {
  return count_sql("SELECT count(*) FROM scheduler.runs WHERE job = '%s' AND scheduled_for = to_timestamp(%lld) "
                   "AND finished_at IS NOT NULL",
                   job, (long long)slot) == 1;
}

/* n replicas whose clocks read `lead` seconds before the local time `boundary` (Unix seconds):
 * at start-up each job's latest slot is due, then at the boundary every job but the daily
 * 03:00 one (when the boundary is 08:00) gets another. Every (job, slot) must have one run,
 * every run one attempt, and each ticket job as many calls at the ticket service as runs. */
static void run_replicas(int n, int64_t boundary, const char *const *names) {
  enum { LEAD_S = 15 };
  int64_t from = boundary - 2 * 86400, to = boundary + 3600;
  /* A run of this test before on the same stack left its runs in the window: start afresh. */
  free(sql_value_fmt("DELETE FROM scheduler.runs WHERE scheduled_for >= to_timestamp(%lld) AND scheduled_for <= "
                     "to_timestamp(%lld) RETURNING 1",
                     (long long)from, (long long)to));
  long calls_before[N_TICKET_JOBS];
  for (size_t i = 0; i < N_TICKET_JOBS; i++) calls_before[i] = ticket_calls(ticket_jobs[i][1]);
  char offset[128];
  snprintf(offset, sizeof offset, "METRO_SCHEDULER_CLOCK_OFFSET_S=%lld",
           (long long)(boundary - LEAD_S - (int64_t)time(NULL)));
  const char *extra[] = {offset, "METRO_SCHEDULER_TICKER=true", NULL};
  int pids[4];
  for (int i = 0; i < n; i++) pids[i] = start_replica(names[i], extra, NULL);

  /* What must be there: the latest slot of each job at start-up and the one at the boundary. */
  struct {
    const char *job;
    int64_t slot;
  } want[32];
  int n_want = 0;
  const char *every[][2] = {{"unpaid-expiry", "60"},       {"pass-auto-activation", "300"},
                            {"ticket-expiry", "600"},      {"refund-retry", "900"},
                            {"promotion-expiry", "3600"},  {"public-cache-refresh", "3600"},
                            {"report-schedules", "60"}};
  for (size_t i = 0; i < sizeof every / sizeof every[0]; i++) {
    want[n_want].job = every[i][0], want[n_want++].slot = boundary - atoi(every[i][1]);
    want[n_want].job = every[i][0], want[n_want++].slot = boundary;
  }
  int64_t day = boundary - (boundary + 7 * 3600) % 86400; /* local midnight of the boundary's day */
  bool at_eight = boundary - day == 8 * 3600;
  want[n_want].job = "expiring-soon", want[n_want++].slot = at_eight ? boundary - 86400 : day - 86400 + 8 * 3600;
  if (at_eight) want[n_want].job = "expiring-soon", want[n_want++].slot = boundary;
  want[n_want].job = "schedule-generation", want[n_want++].slot = at_eight ? day + 3 * 3600 : boundary - 86400;
  if (!at_eight) want[n_want].job = "schedule-generation", want[n_want++].slot = boundary;

  for (int waited = 0;; waited += 200) {
    int missing = 0;
    for (int i = 0; i < n_want; i++) missing += !slot_recorded(want[i].job, want[i].slot);
    long open = count_sql("SELECT count(*) FROM scheduler.runs WHERE finished_at IS NULL AND scheduled_for >= "
                          "to_timestamp(%lld) AND scheduled_for <= to_timestamp(%lld)",
                          (long long)from, (long long)to);
    if (missing == 0 && open == 0) break;
    if (waited > WAIT_MS) fail_msg("%d expected runs missing, %ld unfinished", missing, open);
    sleep_ms(200);
  }
  sleep_ms(1000); /* room for a duplicate to show up, were there one */
  for (int i = 0; i < n; i++) stop_process(pids[i]);

  /* One run per slot, each claimed once, by these replicas, and finished. */
  assert_int_equal(count_sql("SELECT count(*) - count(DISTINCT (job, scheduled_for)) FROM scheduler.runs"), 0);
  char owners[256];
  snprintf(owners, sizeof owners, " AND lease_owner NOT IN ('%s', '%s', '%s')", names[0], n > 1 ? names[1] : "",
           n > 2 ? names[2] : "");
  for (int i = 0; i < n_want; i++) {
    assert_int_equal(runs_in(want[i].job, want[i].slot, want[i].slot, " AND attempts = 1 AND trigger = 'schedule'"), 1);
    assert_int_equal(runs_in(want[i].job, from, to, owners), 0);
    assert_int_equal(runs_in(want[i].job, from, to, " AND (attempts <> 1 OR finished_at IS NULL)"), 0);
  }
  /* Outcomes: every ticket, payment and public job succeeded; control and report are down for them. */
  assert_int_equal(runs_in("schedule-generation", from, to, " AND outcome = 'succeeded'"), 0);
  assert_int_equal(runs_in("report-schedules", from, to, " AND outcome = 'succeeded'"), 0);
  for (size_t i = 0; i < N_TICKET_JOBS; i++) {
    long runs = runs_in(ticket_jobs[i][0], from, to, NULL);
    assert_int_equal(runs_in(ticket_jobs[i][0], from, to, " AND outcome = 'succeeded'"), runs);
    /* Effects once: the ticket service answered exactly one call per run. */
    long calls = ticket_calls(ticket_jobs[i][1]) - calls_before[i];
    if (calls != runs) fail_msg("%s: %ld runs but %ld calls at the ticket service", ticket_jobs[i][0], runs, calls);
  }
  assert_int_equal(runs_in("refund-retry", from, to, " AND outcome = 'succeeded'"),
                   runs_in("refund-retry", from, to, NULL));
  assert_int_equal(runs_in("public-cache-refresh", from, to, " AND outcome = 'succeeded'"),
                   runs_in("public-cache-refresh", from, to, NULL));
  long total = count_sql("SELECT count(*) FROM scheduler.runs WHERE scheduled_for >= to_timestamp(%lld) AND "
                         "scheduled_for <= to_timestamp(%lld)",
                         (long long)from, (long long)to);
  fprintf(stderr, "%d replicas: %ld runs;", n, total);
  for (int i = 0; i < n; i++)
    fprintf(stderr, " %s ran %ld", names[i],
            count_sql("SELECT count(*) FROM scheduler.runs WHERE lease_owner = '%s' AND scheduled_for >= "
                      "to_timestamp(%lld) AND scheduled_for <= to_timestamp(%lld)",
                      names[i], (long long)from, (long long)to));
  fprintf(stderr, "\n");
  /* Runs days ahead would stay the newest of their jobs: leave the history as it was. */
  free(sql_value_fmt("DELETE FROM scheduler.runs WHERE scheduled_for >= to_timestamp(%lld) AND scheduled_for <= "
                     "to_timestamp(%lld) RETURNING 1",
                     (long long)from, (long long)to));
}

static void test_two_then_three_replicas_run_each_slot_once(void **state) {
  (void)state;
  const char *two[] = {"two-a", "two-b"}, *three[] = {"three-a", "three-b", "three-c"};
  /* 08:00 three days ahead (expiring-soon's slot), then 03:00 six days ahead (schedule
   * generation's): far enough apart that their windows do not overlap. */
  run_replicas(2, local_midnight() + 3 * 86400 + 8 * 3600, two);
  run_replicas(3, local_midnight() + 6 * 86400 + 3 * 3600, three);
}

/* ---- a replica dies holding a lease ---- */

typedef struct trigger_arg {
  int port;
  rpc_status st;
} trigger_arg;

static void *trigger_thread(void *p) {
  trigger_arg *t = p;
  arena *a = arena_create(4096);
  Metro__Scheduler__V1__JobRun *run;
  t->st = trigger_grpc(a, t->port, "unpaid-expiry", 90000, &run);
  t->st.message = t->st.reason = t->st.field = NULL; /* the arena goes */
  arena_destroy(a);
  return NULL;
}

static void test_a_replica_killed_holding_a_lease_is_taken_over_once(void **state) {
  (void)state;
  /* No job is due on schedule meanwhile, so the surviving replica only takes over. */
  bool enabled[N_JOBS];
  const char *names[N_JOBS] = {"pass-auto-activation", "unpaid-expiry",       "ticket-expiry",
                               "expiring-soon",        "promotion-expiry",    "refund-retry",
                               "schedule-generation",  "report-schedules",    "public-cache-refresh"};
  for (int i = 0; i < N_JOBS; i++) {
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM scheduler.jobs WHERE name = '%s' AND enabled", names[i]);
    enabled[i] = sql_count(q, NULL) == 1;
    if (enabled[i]) set_enabled(names[i], false);
  }
  /* A run whose lease has expired three times (METRO_JOB_MAX_ATTEMPTS): recorded failed, not
   * called again. */
  sql_exec("DELETE FROM scheduler.runs WHERE lease_owner = 'ghost' RETURNING 1", NULL);
  sql_exec("INSERT INTO scheduler.runs (job, scheduled_for, trigger, lease_owner, lease_expires_at, attempts) "
           "VALUES ('ticket-expiry', '2001-01-01T00:00:00Z', 'schedule', 'ghost', now() - interval '1 minute', 3) "
           "RETURNING 1",
           NULL);
  long unpaid_before = ticket_calls("ExpireUnpaid"), ended_before = ticket_calls("ExpireEnded");

  /* K holds every run a minute before calling, with a 3 s lease; B ticks with a normal one. */
  const char *k_extra[] = {"METRO_SCHEDULER_TICKER=false", "METRO_SCHEDULER_HOLD_MS=60000", "METRO_JOB_LEASE_S=3",
                           "METRO_JOB_TIMEOUT_MS=1000", NULL};
  const char *b_extra[] = {"METRO_SCHEDULER_TICKER=true", "METRO_JOB_LEASE_S=30", "METRO_JOB_TIMEOUT_MS=10000", NULL};
  int k_port, k_pid = start_replica("holder", k_extra, &k_port), b_pid = start_replica("survivor", b_extra, NULL);
  trigger_arg t = {.port = k_port};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, trigger_thread, &t), 0);

  /* K has claimed the run (and holds it); kill -9 it there. */
  char *run_id = NULL, *expired_at = NULL;
  for (int waited = 0; !run_id; waited += 50) {
    assert_true(waited < 20000);
    run_id = sql_value("SELECT run_id FROM scheduler.runs WHERE job = 'unpaid-expiry' AND lease_owner = 'holder' "
                       "AND finished_at IS NULL",
                       NULL);
    if (!run_id) sleep_ms(50);
  }
  expired_at = sql_value("SELECT lease_expires_at::text FROM scheduler.runs WHERE run_id = $1::uuid", run_id);
  assert_non_null(expired_at);
  kill(k_pid, SIGKILL);
  assert_int_equal(wait_exit(k_pid, 5000), 128 + SIGKILL);
  pthread_join(th, NULL);
  assert_false(rpc_ok(t.st)); /* the caller saw the replica go */

  /* B takes it over once the lease expired and completes it, once. */
  for (int waited = 0;; waited += 100) {
    assert_true(waited < 30000);
    if (sql_count("SELECT count(*) FROM scheduler.runs WHERE run_id = $1::uuid AND finished_at IS NOT NULL", run_id))
      break;
    sleep_ms(100);
  }
  char *row = sql_value("SELECT lease_owner || ' ' || attempts || ' ' || outcome FROM scheduler.runs "
                        "WHERE run_id = $1::uuid",
                        run_id);
  assert_non_null(row);
  assert_string_equal(row, "survivor 2 succeeded");
  free(row);
  char q[512];
  snprintf(q, sizeof q,
           "SELECT count(*) FROM scheduler.runs WHERE run_id = $1::uuid AND started_at >= '%s'::timestamptz",
           expired_at);
  assert_int_equal(sql_count(q, run_id), 1); /* not before the holder's lease ran out */
  assert_int_equal(ticket_calls("ExpireUnpaid") - unpaid_before, 1);

  /* The ghost run was given up, not run. */
  for (int waited = 0;; waited += 100) {
    assert_true(waited < 10000);
    if (sql_count("SELECT count(*) FROM scheduler.runs WHERE lease_owner = 'ghost' AND finished_at IS NOT NULL", NULL))
      break;
    sleep_ms(100);
  }
  row = sql_value("SELECT outcome || ' ' || error FROM scheduler.runs WHERE lease_owner = 'ghost'", NULL);
  assert_non_null(row);
  assert_true(strncmp(row, "failed LEASE_EXPIRED", 20) == 0);
  free(row);
  assert_int_equal(ticket_calls("ExpireEnded") - ended_before, 0);
  stop_process(b_pid);
  free(run_id);
  free(expired_at);
  for (int i = 0; i < N_JOBS; i++)
    if (enabled[i]) set_enabled(names[i], true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jobs_are_listed_with_schedules_targets_and_pages),
      cmocka_unit_test(test_a_triggered_unpaid_expiry_expires_the_ticket_and_releases_its_promotion),
      cmocka_unit_test(test_a_missing_or_down_target_is_recorded_failed),
      cmocka_unit_test(test_two_then_three_replicas_run_each_slot_once),
      cmocka_unit_test(test_a_replica_killed_holding_a_lease_is_taken_over_once),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
