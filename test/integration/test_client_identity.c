/* The client address services see: a direct gRPC caller is known by its peer address whatever
 * x-forwarded-for or forged x-metro-client-ip it sends; only the gateway's signed pair counts. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/support/alloc.h>

#include "common/arena.h"
#include "common/identity.h"
#include "common/redis.h"
#include "common/rpc_client.h"
#include "common/rpc_client_internal.h"
#include "common/rpc_server_internal.h"
#include "harness.h"
#include "metro/auth/v1/auth.pb-c.h"
#include "metro/testing/v1/testing.pb-c.h"

#define ECHO "/metro.testing.v1.EchoService/Echo"
#define LOGIN "/metro.auth.v1.AuthService/Login"
#define PEER "127.0.0.1"
/* The second auth process: 8 a minute gives a burst of 2 and one more every 7.5 s. */
#define AUTH_LIMIT "8"
#define AUTH_BURST 2
/* A signature of the right shape (43 base64url characters) that no secret made. */
#define JUNK_SIG "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

typedef struct md_pair {
  const char *key, *value;
} md_pair;

/* ---- helpers ---- */

/* Calls method with exactly the metadata given, as any gRPC client could (the runtime's client
 * never sends x-forwarded-for, so this one builds its own call). */
static rpc_status raw_call(arena *a, const char *target, const char *method, const md_pair *pairs, size_t n,
                           const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                           ProtobufCMessage **response) {
  grpc_channel *ch = rpc_channel_raw(rpc_channel_get(target));
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_slice method_slice = grpc_slice_from_copied_string(method);
  grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method_slice, NULL,
                                             rpc_deadline(10000, INT64_MAX), NULL);
  grpc_metadata md[16];
  assert_true(n <= 16);
  for (size_t i = 0; i < n; i++) {
    memset(&md[i], 0, sizeof md[i]);
    md[i].key = grpc_slice_from_static_string(pairs[i].key);
    md[i].value = grpc_slice_from_static_string(pairs[i].value);
  }
  grpc_byte_buffer *send = rpc_pack_message(request), *recv = NULL;
  grpc_metadata_array initial, trailers;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailers);
  grpc_status_code code = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[6];
  rpc_unary_ops(ops, &(rpc_unary_io){.md = md, .n_md = n, .send = send, .recv = &recv, .initial = &initial,
                                     .trailers = &trailers, .code = &code, .details = &details});
  assert_true(rpc_call_run_batch(call, cq, ops, 6));
  rpc_status st = rpc_status_from_call(a, code, details, &trailers);
  if (rpc_ok(st)) {
    uint8_t *data;
    size_t len;
    ProtobufCAllocator alloc = arena_protobuf_allocator(a);
    assert_non_null(recv);
    assert_true(rpc_byte_buffer_read(a, recv, 1 << 20, &data, &len));
    *response = protobuf_c_message_unpack(response_type, &alloc, len, data);
    assert_non_null(*response);
  }
  grpc_byte_buffer_destroy(send);
  if (recv) grpc_byte_buffer_destroy(recv);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailers);
  grpc_call_unref(call);
  grpc_slice_unref(method_slice);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  return st;
}

/* The client address the echo service saw for a call carrying exactly these metadata. */
static const char *seen_ip(arena *a, const md_pair *pairs, size_t n) {
  Metro__Testing__V1__EchoRequest req = METRO__TESTING__V1__ECHO_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  rpc_status st = raw_call(a, harness_env("METRO_ECHO_GRPC"), ECHO, pairs, n, &req.base,
                           &metro__testing__v1__echo_response__descriptor, &resp);
  if (!rpc_ok(st)) fail_msg("Echo -> %d %s", st.code, st.message);
  return ((Metro__Testing__V1__EchoResponse *)resp)->client_ip;
}

/* The same through the runtime's own client (rpc_call_unary with rpc_call_meta). */
static const char *seen_ip_meta(arena *a, const rpc_call_meta *meta) {
  Metro__Testing__V1__EchoRequest req = METRO__TESTING__V1__ECHO_REQUEST__INIT;
  ProtobufCMessage *resp = NULL;
  rpc_status st = rpc_call_unary(rpc_channel_get(harness_env("METRO_ECHO_GRPC")), a, ECHO, meta, &req.base,
                                 &metro__testing__v1__echo_response__descriptor, &resp, 10000, INT64_MAX);
  if (!rpc_ok(st)) fail_msg("Echo -> %d %s", st.code, st.message);
  return ((Metro__Testing__V1__EchoResponse *)resp)->client_ip;
}

/* A client-address pair signed with the stack's secret (the gateway's), valid ttl_s seconds. */
static void stack_signed_ip(arena *a, const char *ip, int64_t ttl_s, const char **value, const char **sig) {
  char *secret = harness_stack_secret();
  bool ok = client_ip_sign(a, secret, ip, (int64_t)time(NULL) + ttl_s, value, sig);
  free(secret);
  assert_true(ok);
}

static int64_t now_unix(void) { return (int64_t)time(NULL); }

/* ---- the echo service: what a service sees ---- */

static void test_a_direct_caller_is_known_by_its_peer_address(void **state) {
  (void)state;
  arena *a = arena_create(8192);
  assert_string_equal(seen_ip(a, NULL, 0), PEER);
  assert_string_equal(seen_ip_meta(a, NULL), PEER);
  arena_destroy(a);
}

static void test_x_forwarded_for_and_its_cousins_are_ignored(void **state) {
  (void)state;
  arena *a = arena_create(8192);
  const md_pair xff[] = {{"x-forwarded-for", "203.0.113.9"}};
  assert_string_equal(seen_ip(a, xff, 1), PEER);
  const md_pair chain[] = {{"x-forwarded-for", "203.0.113.9, 198.51.100.1"}};
  assert_string_equal(seen_ip(a, chain, 1), PEER);
  const md_pair others[] = {{"x-real-ip", "203.0.113.9"},
                            {"forwarded", "for=203.0.113.9"},
                            {"x-forwarded-for", "203.0.113.9"},
                            {"x-client-ip", "203.0.113.9"}};
  assert_string_equal(seen_ip(a, others, 4), PEER);
  arena_destroy(a);
}

static void test_unsigned_or_forged_client_addresses_are_ignored(void **state) {
  (void)state;
  arena *a = arena_create(8192);
  const char *value = arena_printf(a, "203.0.113.9;%lld", (long long)(now_unix() + 60));
  /* the value alone */
  const md_pair alone[] = {{CLIENT_IP_HEADER, value}};
  assert_string_equal(seen_ip(a, alone, 1), PEER);
  /* a signature of the right shape that no secret made */
  const md_pair junk[] = {{CLIENT_IP_HEADER, value}, {CLIENT_IP_SIG_HEADER, JUNK_SIG}};
  assert_string_equal(seen_ip(a, junk, 2), PEER);
  /* signed with another secret */
  const char *v, *s;
  assert_true(client_ip_sign(a, "not-the-stack-secret", "203.0.113.9", now_unix() + 60, &v, &s));
  const md_pair other_secret[] = {{CLIENT_IP_HEADER, v}, {CLIENT_IP_SIG_HEADER, s}};
  assert_string_equal(seen_ip(a, other_secret, 2), PEER);
  /* a genuine pair whose address was changed */
  stack_signed_ip(a, "198.51.100.40", 60, &v, &s);
  const char *moved = arena_printf(a, "203.0.113.9%s", strchr(v, ';'));
  const md_pair tampered[] = {{CLIENT_IP_HEADER, moved}, {CLIENT_IP_SIG_HEADER, s}};
  assert_string_equal(seen_ip(a, tampered, 2), PEER);
  /* a genuine identity signature offered as a client-address one */
  char *secret = harness_stack_secret();
  const char *roles[] = {"passenger"};
  assert_true(identity_sign(a, secret, "203.0.113.9", roles, 1, now_unix() + 60, &v, &s));
  free(secret);
  const md_pair identity_as_ip[] = {{CLIENT_IP_HEADER, v}, {CLIENT_IP_SIG_HEADER, s}};
  assert_string_equal(seen_ip(a, identity_as_ip, 2), PEER);
  arena_destroy(a);
}

static void test_a_pair_signed_with_the_stack_secret_is_believed(void **state) {
  (void)state;
  arena *a = arena_create(8192);
  rpc_call_meta meta = {0};
  stack_signed_ip(a, "198.51.100.23", 60, &meta.client_ip_value, &meta.client_ip_sig);
  assert_string_equal(seen_ip_meta(a, &meta), "198.51.100.23");
  /* with x-forwarded-for beside it, the signed address still wins */
  const md_pair with_xff[] = {{"x-forwarded-for", "203.0.113.9"},
                              {CLIENT_IP_HEADER, meta.client_ip_value},
                              {CLIENT_IP_SIG_HEADER, meta.client_ip_sig}};
  assert_string_equal(seen_ip(a, with_xff, 3), "198.51.100.23");
  stack_signed_ip(a, "2001:DB8:0::5", 60, &meta.client_ip_value, &meta.client_ip_sig);
  assert_string_equal(seen_ip_meta(a, &meta), "2001:db8::5");
  arena_destroy(a);
}

static void test_an_expired_pair_is_ignored(void **state) {
  (void)state;
  arena *a = arena_create(8192);
  rpc_call_meta meta = {0};
  stack_signed_ip(a, "198.51.100.24", -1, &meta.client_ip_value, &meta.client_ip_sig);
  assert_string_equal(seen_ip_meta(a, &meta), PEER);
  arena_destroy(a);
}

/* What a service forwards: the verified pair, never x-forwarded-for. */
static void test_outgoing_metadata_carries_the_pair_and_never_x_forwarded_for(void **state) {
  (void)state;
  arena *a = arena_create(8192);
  rpc_ctx ctx = {.arena = a, .request_id = "r-1", .client_ip = "198.51.100.25"};
  stack_signed_ip(a, "198.51.100.25", 60, &ctx.client_ip_value, &ctx.client_ip_sig);
  rpc_call_meta meta = rpc_meta_from_ctx(&ctx);
  assert_ptr_equal(meta.client_ip_value, ctx.client_ip_value);
  assert_ptr_equal(meta.client_ip_sig, ctx.client_ip_sig);
  grpc_metadata md[RPC_META_MAX];
  size_t n = rpc_meta_build(&meta, md);
  int pair = 0;
  for (size_t i = 0; i < n; i++) {
    char *k = grpc_slice_to_c_string(md[i].key);
    char *v = grpc_slice_to_c_string(md[i].value);
    assert_string_not_equal(k, "x-forwarded-for");
    if (strcmp(k, CLIENT_IP_HEADER) == 0 && strcmp(v, ctx.client_ip_value) == 0) pair |= 1;
    if (strcmp(k, CLIENT_IP_SIG_HEADER) == 0 && strcmp(v, ctx.client_ip_sig) == 0) pair |= 2;
    gpr_free(k);
    gpr_free(v);
  }
  rpc_meta_release(md, n);
  assert_int_equal(pair, 3);
  /* and the next service believes it */
  assert_string_equal(seen_ip_meta(a, &meta), "198.51.100.25");
  /* a call that carried no verified pair forwards none */
  rpc_ctx direct = {.arena = a, .request_id = "r-2", .client_ip = PEER};
  meta = rpc_meta_from_ctx(&direct);
  assert_null(meta.client_ip_value);
  assert_null(meta.client_ip_sig);
  arena_destroy(a);
}

/* ---- auth's per-IP login limit, on a second auth process with a low limit and its own Redis ---- */

typedef struct auth_fixture {
  int redis_pid, auth_pid, redis_port;
  char auth_target[64];
} auth_fixture;

static auth_fixture fx;

/* fork + exec with arguments; the child dies with this test (PR_SET_PDEATHSIG) and writes to log. */
static int start_child(const char *const argv[], const char *log_path) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid != 0) return (int)pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execvp(argv[0], (char *const *)argv);
  _exit(127);
}

/* DIR/run/auth.sh (the stack's own restart script, environment and all) up to its pid line,
 * then our overrides and an exec of the same binary, as a new script of mode 0700. */
static void write_auth_script(const char *path, const char *grpc_port, const char *metrics_port) {
  char src[1024], line[65536], bin[1024] = "";
  snprintf(src, sizeof src, "%s/run/auth.sh", harness_env("METRO_STACK_DIR"));
  FILE *in = fopen(src, "r");
  assert_non_null(in);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
  assert_true(fd >= 0);
  FILE *out = fdopen(fd, "w");
  bool body = true;
  while (fgets(line, sizeof line, in)) {
    if (strncmp(line, "echo $$", 7) == 0) body = false; /* the stack's pid file is not ours */
    if (strncmp(line, "exec '", 6) == 0) snprintf(bin, sizeof bin, "%.*s", (int)strcspn(line + 6, "'"), line + 6);
    if (body) fputs(line, out);
  }
  fclose(in);
  assert_true(bin[0] != '\0');
  fprintf(out, "export METRO_GRPC_ADDR=127.0.0.1:%s METRO_METRICS_PORT=%s METRO_REDIS_PORT=%d\n", grpc_port,
          metrics_port, fx.redis_port);
  fprintf(out, "export METRO_AUTH_RATE_LIMIT_PER_MINUTE=%s\nexec '%s'\n", AUTH_LIMIT, bin);
  fclose(out);
}

static int auth_setup(void **state) {
  (void)state;
  const char *dir = harness_env("METRO_STACK_DIR");
  char redis_dir[1024], port[16], log_path[1200];
  snprintf(redis_dir, sizeof redis_dir, "%s/client-identity-redis", dir);
  mkdir(redis_dir, 0700);
  fx.redis_port = free_port();
  snprintf(port, sizeof port, "%d", fx.redis_port);
  snprintf(log_path, sizeof log_path, "%s/redis.log", redis_dir);
  const char *redis_argv[] = {"redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly",
                              "no", "--dir", redis_dir, NULL};
  fx.redis_pid = start_child(redis_argv, log_path);
  if (!wait_port(fx.redis_port, 10000)) return -1;

  char grpc_port[16], metrics_port[16], script[1024];
  snprintf(grpc_port, sizeof grpc_port, "%d", free_port());
  snprintf(metrics_port, sizeof metrics_port, "%d", free_port());
  snprintf(fx.auth_target, sizeof fx.auth_target, "127.0.0.1:%s", grpc_port);
  snprintf(script, sizeof script, "%s/run/auth-client-identity-test.sh", dir);
  write_auth_script(script, grpc_port, metrics_port);
  snprintf(log_path, sizeof log_path, "%s/logs/auth-client-identity-test.log", dir);
  const char *auth_argv[] = {"/bin/bash", script, NULL};
  fx.auth_pid = start_child(auth_argv, log_path);
  bool up = wait_port(atoi(grpc_port), 60000);
  unlink(script); /* bash has exec'd the service by now; the copy holds secrets */
  if (!up) fprintf(stderr, "the second auth process did not start; see %s\n", log_path);
  redis_configure("127.0.0.1", fx.redis_port, NULL); /* this test reads the limiter's keys */
  return up ? 0 : -1;
}

/* SIGTERM, then SIGKILL when it has not exited within timeout_ms. */
static void stop_child(int pid, int timeout_ms) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  if (wait_exit(pid, timeout_ms) >= 0) return;
  kill(pid, SIGKILL);
  wait_exit(pid, 5000);
}

static int auth_teardown(void **state) {
  (void)state;
  redis_disconnect();
  stop_child(fx.auth_pid, 15000);
  stop_child(fx.redis_pid, 10000);
  return 0;
}

static rpc_status login_with(arena *a, const md_pair *pairs, size_t n) {
  Metro__Auth__V1__LoginRequest req = METRO__AUTH__V1__LOGIN_REQUEST__INIT;
  req.login = (char *)unique_name("nobody");
  req.password = (char *)"Not-The-Password-1";
  ProtobufCMessage *resp = NULL;
  return raw_call(a, fx.auth_target, LOGIN, pairs, n, &req.base, &metro__auth__v1__session__descriptor, &resp);
}

static bool rate_limited(rpc_status st) {
  return st.code == GRPC_STATUS_RESOURCE_EXHAUSTED && st.reason && strcmp(st.reason, "RATE_LIMITED") == 0;
}

static long long redis_exists(arena *a, const char *key) {
  redisReply *r = redis_command(a, "EXISTS %s", key);
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_INTEGER);
  return r->integer;
}

static void test_login_limit_cannot_be_dodged_with_forwarded_headers(void **state) {
  (void)state;
  arena *a = arena_create(16384);
  /* the burst, each attempt claiming another address */
  for (int i = 0; i < AUTH_BURST; i++) {
    const char *ip = arena_printf(a, "203.0.113.%d", i + 1);
    const md_pair md[] = {{"x-forwarded-for", ip}};
    rpc_status st = login_with(a, md, 1);
    if (rate_limited(st)) fail_msg("attempt %d of the burst was limited", i + 1);
    assert_int_equal(st.code, GRPC_STATUS_UNAUTHENTICATED); /* INVALID_CREDENTIALS: it was counted and checked */
  }
  /* more, each with new headers and forged pairs: all limited, as the same peer */
  for (int i = 0; i < 6; i++) {
    const char *ip = arena_printf(a, "203.0.113.%d", 50 + i);
    const char *value = arena_printf(a, "%s;%lld", ip, (long long)(now_unix() + 60));
    const md_pair md[] = {{"x-forwarded-for", ip},
                          {"x-real-ip", ip},
                          {CLIENT_IP_HEADER, value},
                          {CLIENT_IP_SIG_HEADER, JUNK_SIG}};
    rpc_status st = login_with(a, md, i % 2 ? 4 : 1);
    if (!rate_limited(st)) fail_msg("attempt %d past the burst -> %d %s", i, st.code, st.reason ? st.reason : "");
    assert_true(st.retry_after >= 1 && st.retry_after <= 8); /* one attempt every 7.5 s */
  }
  /* the limiter keyed the peer, and never a claimed address */
  assert_int_equal(redis_exists(a, "metro:rl:auth.login:" PEER), 1);
  redisReply *r = redis_command(a, "KEYS %s", "metro:rl:*203.0.113*");
  assert_non_null(r);
  assert_int_equal(r->elements, 0);
  arena_destroy(a);
}

static void test_the_gateway_signed_address_has_its_own_budget(void **state) {
  (void)state;
  arena *a = arena_create(16384);
  const char *ip = arena_printf(a, "198.51.100.%d", 100 + (int)(getpid() % 100));
  const char *value, *sig;
  stack_signed_ip(a, ip, 60, &value, &sig);
  const md_pair md[] = {{CLIENT_IP_HEADER, value}, {CLIENT_IP_SIG_HEADER, sig}, {"x-forwarded-for", "203.0.113.77"}};
  for (int i = 0; i < AUTH_BURST; i++) {
    rpc_status st = login_with(a, md, 3);
    if (rate_limited(st)) fail_msg("signed attempt %d was limited (the peer's budget leaked in?)", i + 1);
  }
  assert_true(rate_limited(login_with(a, md, 3)));
  assert_int_equal(redis_exists(a, arena_printf(a, "metro:rl:auth.login:%s", ip)), 1);
  arena_destroy(a);
}

static int teardown(void **state) {
  (void)state;
  rpc_client_shutdown();
  return 0;
}

int main(void) {
  harness_init();
  const struct CMUnitTest echo_tests[] = {
      cmocka_unit_test(test_a_direct_caller_is_known_by_its_peer_address),
      cmocka_unit_test(test_x_forwarded_for_and_its_cousins_are_ignored),
      cmocka_unit_test(test_unsigned_or_forged_client_addresses_are_ignored),
      cmocka_unit_test(test_a_pair_signed_with_the_stack_secret_is_believed),
      cmocka_unit_test(test_an_expired_pair_is_ignored),
      cmocka_unit_test(test_outgoing_metadata_carries_the_pair_and_never_x_forwarded_for),
  };
  const struct CMUnitTest auth_tests[] = {
      cmocka_unit_test(test_login_limit_cannot_be_dodged_with_forwarded_headers),
      cmocka_unit_test(test_the_gateway_signed_address_has_its_own_budget),
  };
  int failed = cmocka_run_group_tests_name("echo", echo_tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("auth", auth_tests, auth_setup, auth_teardown);
  teardown(NULL);
  return failed;
}
