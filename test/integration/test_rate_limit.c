/* common/rate_limit against the stack's real Redis: GCRA's exact burst, a burst across a fixed
 * window's boundary, regained capacity, one limit for concurrent callers, hashed keys, the
 * script reloaded after a flush, and failing open (with one warning) when Redis is unreachable. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/arena.h"
#include "common/crypto.h"
#include "common/rate_limit.h"
#include "common/redis.h"
#include "harness.h"

/* limit 5 per 2 s, burst 5: one request every 400 ms, five at once after a quiet spell */
static const rate_limit_rule five_per_2s = {.name = "test.five-per-2s", .limit = 5, .period_ms = 2000, .burst = 5};
#define INTERVAL_MS 400

/* ---- helpers ---- */

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  if (ms <= 0) return;
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void use_stack_redis(void) {
  redis_configure("127.0.0.1", atoi(harness_env("METRO_REDIS_PORT")), NULL);
  redis_disconnect();
}

/* n checks of cost 1 on key; returns how many passed (results in out when given). */
static int hits(arena *a, const rate_limit_rule *rule, const char *key, int n, rate_limit_result *out) {
  int allowed = 0;
  for (int i = 0; i < n; i++) {
    rate_limit_result r;
    rate_limit_check(a, rule, key, 1, &r);
    if (r.failed_open) fail_msg("check %d failed open: is the stack's Redis up?", i);
    allowed += r.allowed;
    if (out) out[i] = r;
  }
  return allowed;
}

/* ---- the algorithm ---- */

static void test_twenty_at_once_let_exactly_the_burst_through(void **state) {
  (void)state;
  arena *a = arena_create(16384);
  const char *key = unique_name("burst");
  rate_limit_result r[20];
  assert_int_equal(hits(a, &five_per_2s, key, 20, r), 5);
  for (int i = 0; i < 5; i++) {
    assert_true(r[i].allowed);
    assert_int_equal(r[i].limit, 5);
    assert_int_equal(r[i].remaining, 4 - i);
    assert_int_equal(r[i].retry_after_ms, 0);
    assert_true(r[i].reset_ms > (i + 1) * INTERVAL_MS - 100 && r[i].reset_ms <= (i + 1) * INTERVAL_MS);
  }
  for (int i = 5; i < 20; i++) {
    assert_false(r[i].allowed);
    assert_int_equal(r[i].remaining, 0);
    assert_true(r[i].retry_after_ms > 0 && r[i].retry_after_ms <= INTERVAL_MS);
    assert_true(r[i].reset_ms > 2000 - INTERVAL_MS && r[i].reset_ms <= 2000);
  }
  /* the TAT lives in "metro:rl:<rule>:<key>" and expires when the limiter is full again */
  redisReply *ttl = redis_command(a, "PTTL %s", arena_printf(a, "metro:rl:%s:%s", five_per_2s.name, key));
  assert_non_null(ttl);
  assert_int_equal(ttl->type, REDIS_REPLY_INTEGER);
  assert_true(ttl->integer > 2000 - INTERVAL_MS && ttl->integer <= 2000);
  arena_destroy(a);
}

/* A fixed 2 s window would let both batches through (5 + 5 across the boundary); GCRA lets the
 * second have only what time regained: one every 400 ms. */
static void test_a_burst_across_a_window_boundary_is_still_limited(void **state) {
  (void)state;
  arena *a = arena_create(16384);
  const char *key = unique_name("boundary");
  int64_t now = wall_ms();
  int64_t window = now / 2000 + 1; /* the next window, so there is time to reach its 1.9 s */
  sleep_ms(window * 2000 + 1900 - now);
  int64_t first_at = mono_ms(), first_wall = wall_ms();
  assert_int_equal(hits(a, &five_per_2s, key, 5, NULL), 5);
  sleep_ms((window + 1) * 2000 + 100 - wall_ms());
  int64_t second_wall = wall_ms();
  int second = hits(a, &five_per_2s, key, 5, NULL);
  int64_t elapsed = mono_ms() - first_at;
  assert_true(first_wall / 2000 != second_wall / 2000); /* the batches did straddle a boundary */
  fprintf(stderr, "second batch after %lld ms: %d of 5 allowed\n", (long long)elapsed, second);
  /* never more than the time elapsed paid for: ~200 ms apart, none (at most 1 when slow) */
  assert_true(second <= elapsed / INTERVAL_MS);
  arena_destroy(a);
}

static void test_after_one_emission_interval_exactly_one_more_passes(void **state) {
  (void)state;
  arena *a = arena_create(16384);
  const char *key = unique_name("regain");
  assert_int_equal(hits(a, &five_per_2s, key, 5, NULL), 5);
  rate_limit_result r;
  rate_limit_check(a, &five_per_2s, key, 1, &r);
  assert_false(r.allowed);
  assert_true(r.retry_after_ms > 0 && r.retry_after_ms <= INTERVAL_MS);
  sleep_ms(r.retry_after_ms + 10);
  rate_limit_check(a, &five_per_2s, key, 1, &r);
  assert_true(r.allowed);
  assert_int_equal(r.remaining, 0);
  rate_limit_check(a, &five_per_2s, key, 1, &r);
  assert_false(r.allowed);
  arena_destroy(a);
}

static void test_cost_counts_several_requests(void **state) {
  (void)state;
  arena *a = arena_create(16384);
  const char *key = unique_name("cost");
  rate_limit_result r;
  rate_limit_check(a, &five_per_2s, key, 3, &r);
  assert_true(r.allowed);
  assert_int_equal(r.remaining, 2);
  rate_limit_check(a, &five_per_2s, key, 3, &r);
  assert_false(r.allowed); /* only 2 left: refused whole, nothing taken */
  rate_limit_check(a, &five_per_2s, key, 2, &r);
  assert_true(r.allowed);
  assert_int_equal(r.remaining, 0);
  rate_limit_check(a, &five_per_2s, unique_name("cost"), 6, &r);
  assert_false(r.allowed); /* more than the burst never passes */
  rate_limit_check(a, &five_per_2s, unique_name("cost"), 0, &r);
  assert_true(r.allowed); /* a cost below 1 counts as 1 */
  assert_int_equal(r.remaining, 4);
  arena_destroy(a);
}

/* ---- concurrency: one exact limit for every caller ---- */

#define THREADS 8
#define HITS_PER_THREAD 25
static const rate_limit_rule forty_per_10min = {.name = "test.forty", .limit = 40, .period_ms = 600000, .burst = 40};

typedef struct hammer {
  const char *key;
  int allowed, failed_open;
} hammer;

static void *hammer_main(void *p) {
  hammer *h = p;
  arena *a = arena_create(16384);
  for (int i = 0; i < HITS_PER_THREAD; i++) {
    rate_limit_result r;
    rate_limit_check(a, &forty_per_10min, h->key, 1, &r);
    h->allowed += r.allowed;
    h->failed_open += r.failed_open;
  }
  arena_destroy(a);
  redis_disconnect(); /* each thread had its own connection, as replicas would */
  return NULL;
}

static void test_eight_threads_on_one_key_get_exactly_the_limit(void **state) {
  (void)state;
  const char *key = unique_name("threads");
  pthread_t t[THREADS];
  hammer h[THREADS];
  for (int i = 0; i < THREADS; i++) {
    h[i] = (hammer){.key = key};
    assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
  }
  int allowed = 0, failed_open = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    allowed += h[i].allowed;
    failed_open += h[i].failed_open;
  }
  assert_int_equal(failed_open, 0);
  assert_int_equal(allowed, 40);
}

/* ---- keys and the script ---- */

static void test_long_keys_are_hashed_and_short_ones_kept(void **state) {
  (void)state;
  arena *a = arena_create(16384);
  static const rate_limit_rule rule = {.name = "test.keys", .limit = 10, .period_ms = 60000};
  char long_key[301], exact[129];
  snprintf(long_key, sizeof long_key, "%s", unique_name("long"));
  memset(long_key + strlen(long_key), 'x', sizeof long_key - 1 - strlen(long_key));
  long_key[300] = '\0';
  snprintf(exact, sizeof exact, "%s", unique_name("exact"));
  memset(exact + strlen(exact), 'y', sizeof exact - 1 - strlen(exact));
  exact[128] = '\0';
  const char *hashed_looking = arena_printf(a, "#%s", unique_name("hash"));
  rate_limit_result r;
  const char *keys[] = {long_key, exact, hashed_looking};
  for (size_t i = 0; i < 3; i++) {
    rate_limit_check(a, &rule, keys[i], 1, &r);
    assert_true(r.allowed && !r.failed_open);
    assert_int_equal(r.remaining, 9); /* burst 0 means the limit */
  }
  char hex[65];
  crypto_sha256_hex(long_key, strlen(long_key), hex);
  redisReply *e = redis_command(a, "EXISTS %s", arena_printf(a, "metro:rl:test.keys:#%s", hex));
  assert_int_equal(e->integer, 1);
  e = redis_command(a, "EXISTS %s", arena_printf(a, "metro:rl:test.keys:%s", long_key));
  assert_int_equal(e->integer, 0);
  e = redis_command(a, "EXISTS %s", arena_printf(a, "metro:rl:test.keys:%s", exact)); /* 128 bytes: as is */
  assert_int_equal(e->integer, 1);
  crypto_sha256_hex(hashed_looking, strlen(hashed_looking), hex); /* '#' is the hashes' namespace */
  e = redis_command(a, "EXISTS %s", arena_printf(a, "metro:rl:test.keys:#%s", hex));
  assert_int_equal(e->integer, 1);
  arena_destroy(a);
}

static void test_a_flushed_script_is_sent_again(void **state) {
  (void)state;
  arena *a = arena_create(16384);
  const char *key = unique_name("flush");
  rate_limit_result r;
  rate_limit_check(a, &five_per_2s, key, 1, &r); /* loaded on this connection */
  assert_true(r.allowed && !r.failed_open);
  redisReply *f = redis_command(a, "SCRIPT FLUSH");
  assert_non_null(f);
  assert_int_equal(f->type, REDIS_REPLY_STATUS);
  rate_limit_check(a, &five_per_2s, key, 1, &r); /* EVALSHA -> NOSCRIPT -> EVAL */
  assert_true(r.allowed);
  assert_false(r.failed_open);
  assert_int_equal(r.remaining, 3); /* and counted on the same key */
  rate_limit_check(a, &five_per_2s, key, 1, &r); /* loaded again */
  assert_false(r.failed_open);
  assert_int_equal(r.remaining, 2);
  arena_destroy(a);
}

/* ---- failing open ---- */

static void test_unreachable_redis_fails_open_with_one_warning(void **state) {
  (void)state;
  arena *a = arena_create(65536);
  redis_configure("127.0.0.1", free_port(), NULL); /* nothing listens there */
  redis_disconnect();
  char path[] = "/tmp/metro-rate-limit-log-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  dup2(fd, STDOUT_FILENO); /* the log writes to fd 1 */
  int allowed = 0, failed_open = 0;
  int64_t started = mono_ms();
  for (int i = 0; i < 50; i++) {
    rate_limit_result r;
    rate_limit_check(a, &five_per_2s, "down", 1, &r);
    allowed += r.allowed;
    failed_open += r.failed_open;
  }
  int64_t took = mono_ms() - started;
  dup2(saved, STDOUT_FILENO);
  close(saved);
  use_stack_redis();
  char log[65536];
  ssize_t n = pread(fd, log, sizeof log - 1, 0);
  close(fd);
  unlink(path);
  log[n > 0 ? n : 0] = '\0';
  int warnings = 0;
  for (const char *p = log; (p = strstr(p, "test.five-per-2s not enforced")); p++) warnings++;
  assert_int_equal(allowed, 50);
  assert_int_equal(failed_open, 50);
  assert_int_equal(warnings, 1); /* at most one every 10 s */
  assert_true(took < 5000);      /* no waiting on a dead server per request */
  arena_destroy(a);
}

static void test_an_invalid_rule_fails_open(void **state) {
  (void)state;
  arena *a = arena_create(4096);
  const rate_limit_rule bad[] = {
      {.name = "test.zero", .limit = 0, .period_ms = 1000},
      {.name = "test.no-period", .limit = 5, .period_ms = 0},
      {.name = "has space", .limit = 5, .period_ms = 1000},
      {.name = "", .limit = 5, .period_ms = 1000},
      {.name = "test.too-fast", .limit = 2000000, .period_ms = 1000},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rate_limit_result r;
    rate_limit_check(a, &bad[i], "k", 1, &r);
    assert_true(r.allowed);
    assert_true(r.failed_open);
  }
  arena_destroy(a);
}

static int setup(void **state) {
  (void)state;
  use_stack_redis();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  redis_disconnect();
  return 0;
}

int main(void) {
  harness_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_twenty_at_once_let_exactly_the_burst_through),
      cmocka_unit_test(test_a_burst_across_a_window_boundary_is_still_limited),
      cmocka_unit_test(test_after_one_emission_interval_exactly_one_more_passes),
      cmocka_unit_test(test_cost_counts_several_requests),
      cmocka_unit_test(test_eight_threads_on_one_key_get_exactly_the_limit),
      cmocka_unit_test(test_long_keys_are_hashed_and_short_ones_kept),
      cmocka_unit_test(test_a_flushed_script_is_sent_again),
      /* the warning is rate-limited process-wide: the Redis-down case runs first */
      cmocka_unit_test(test_unreachable_redis_fails_open_with_one_warning),
      cmocka_unit_test(test_an_invalid_rule_fails_open),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
