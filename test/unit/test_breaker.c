/* Unit tests of transcoder/breaker: the failure threshold, open and half-open with a single
 * probe, the probe's outcome, slow calls and counters under threads, on a fake clock. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transcoder/breaker.h"

static breaker_stats snap(const breaker *b) {
  breaker_stats s;
  breaker_snapshot(b, &s);
  return s;
}

/* n calls at time t, each let through and failing. */
static void fail_n(breaker *b, int n, int64_t t) {
  for (int i = 0; i < n; i++) {
    assert_true(breaker_allow(b, t, NULL));
    breaker_record(b, t, true, 5);
  }
}

static void test_defaults_apply_to_null_or_zero_config(void **state) {
  (void)state;
  breaker b;
  breaker_init(&b, NULL);
  assert_int_equal(b.cfg.failure_threshold, 5);
  assert_int_equal(b.cfg.open_ms, 5000);
  assert_int_equal(b.cfg.slow_call_ms, 0);
  assert_int_equal(snap(&b).state, BREAKER_CLOSED);
  breaker_destroy(&b);
  breaker_init(&b, &(breaker_config){.failure_threshold = 0, .open_ms = -1, .slow_call_ms = -3});
  assert_int_equal(b.cfg.failure_threshold, 5);
  assert_int_equal(b.cfg.open_ms, 5000);
  assert_int_equal(b.cfg.slow_call_ms, 0);
  breaker_destroy(&b);
}

static void test_threshold_of_consecutive_failures_opens_it(void **state) {
  (void)state;
  breaker b;
  breaker_init(&b, &(breaker_config){.failure_threshold = 3, .open_ms = 1000});
  fail_n(&b, 2, 100);
  /* a success in between resets the run */
  assert_true(breaker_allow(&b, 101, NULL));
  breaker_record(&b, 101, false, 5);
  assert_int_equal(snap(&b).consecutive_failures, 0);
  fail_n(&b, 2, 102);
  breaker_stats s = snap(&b);
  assert_int_equal(s.state, BREAKER_CLOSED);
  assert_int_equal(s.consecutive_failures, 2);
  fail_n(&b, 1, 200);
  s = snap(&b);
  assert_int_equal(s.state, BREAKER_OPEN);
  assert_int_equal(s.consecutive_failures, 3);
  assert_int_equal(s.opened_at_ms, 200);
  /* open: refused, told how long to wait */
  int64_t retry = 0;
  assert_false(breaker_allow(&b, 450, &retry));
  assert_int_equal(retry, 750);
  assert_false(breaker_allow(&b, 1199, &retry));
  assert_int_equal(retry, 1);
  s = snap(&b);
  assert_int_equal(s.requests, 6);
  assert_int_equal(s.failures, 5);
  assert_int_equal(s.rejected, 2);
  breaker_destroy(&b);
}

static void test_half_open_lets_exactly_one_probe_through(void **state) {
  (void)state;
  breaker b;
  breaker_init(&b, &(breaker_config){.failure_threshold = 1, .open_ms = 5000});
  fail_n(&b, 1, 0);
  assert_int_equal(snap(&b).state, BREAKER_OPEN);
  int64_t retry = 0;
  assert_false(breaker_allow(&b, 4999, &retry));
  assert_true(breaker_allow(&b, 5000, &retry)); /* the probe */
  assert_int_equal(snap(&b).state, BREAKER_HALF_OPEN);
  for (int i = 0; i < 10; i++) {
    retry = 0;
    assert_false(breaker_allow(&b, 5000 + i * 10000, &retry));
    assert_int_equal(retry, BREAKER_PROBE_RETRY_MS);
  }
  breaker_stats s = snap(&b);
  assert_int_equal(s.requests, 2);
  assert_int_equal(s.rejected, 11);
  breaker_destroy(&b);
}

static void test_probe_success_closes_it(void **state) {
  (void)state;
  breaker b;
  breaker_init(&b, &(breaker_config){.failure_threshold = 2, .open_ms = 100});
  fail_n(&b, 2, 10);
  assert_true(breaker_allow(&b, 110, NULL));
  breaker_record(&b, 130, false, 20);
  breaker_stats s = snap(&b);
  assert_int_equal(s.state, BREAKER_CLOSED);
  assert_int_equal(s.consecutive_failures, 0);
  /* closed again: everything goes through, and it takes the full threshold to re-open */
  for (int i = 0; i < 5; i++) assert_true(breaker_allow(&b, 131, NULL));
  for (int i = 0; i < 5; i++) breaker_record(&b, 131, false, 1);
  fail_n(&b, 1, 140);
  assert_int_equal(snap(&b).state, BREAKER_CLOSED);
  fail_n(&b, 1, 141);
  assert_int_equal(snap(&b).state, BREAKER_OPEN);
  assert_int_equal(snap(&b).opened_at_ms, 141);
  breaker_destroy(&b);
}

static void test_probe_failure_reopens_it_for_open_ms(void **state) {
  (void)state;
  breaker b;
  breaker_init(&b, &(breaker_config){.failure_threshold = 2, .open_ms = 100});
  fail_n(&b, 2, 10);
  assert_true(breaker_allow(&b, 110, NULL));
  breaker_record(&b, 150, true, 40);
  breaker_stats s = snap(&b);
  assert_int_equal(s.state, BREAKER_OPEN);
  assert_int_equal(s.opened_at_ms, 150);
  int64_t retry = 0;
  assert_false(breaker_allow(&b, 200, &retry));
  assert_int_equal(retry, 50);
  assert_true(breaker_allow(&b, 250, NULL)); /* the next probe */
  breaker_record(&b, 251, false, 1);
  assert_int_equal(snap(&b).state, BREAKER_CLOSED);
  breaker_destroy(&b);
}

static void test_outcomes_of_calls_from_before_it_opened_change_nothing(void **state) {
  (void)state;
  breaker b;
  breaker_init(&b, &(breaker_config){.failure_threshold = 2, .open_ms = 100});
  /* four calls in flight; two fail and open it; the other two end while it is open */
  for (int i = 0; i < 4; i++) assert_true(breaker_allow(&b, 0, NULL));
  breaker_record(&b, 10, true, 10);
  breaker_record(&b, 11, true, 11);
  assert_int_equal(snap(&b).state, BREAKER_OPEN);
  breaker_record(&b, 20, false, 20);
  breaker_record(&b, 30, true, 30);
  breaker_stats s = snap(&b);
  assert_int_equal(s.state, BREAKER_OPEN);
  assert_int_equal(s.opened_at_ms, 11); /* not extended */
  assert_int_equal(s.failures, 3);
  assert_true(breaker_allow(&b, 111, NULL));
  breaker_destroy(&b);
}

static void test_slow_successes_count_as_failures(void **state) {
  (void)state;
  breaker b;
  breaker_init(&b, &(breaker_config){.failure_threshold = 3, .open_ms = 1000, .slow_call_ms = 200});
  for (int i = 0; i < 2; i++) {
    assert_true(breaker_allow(&b, i, NULL));
    breaker_record(&b, i, false, 201);
  }
  assert_true(breaker_allow(&b, 3, NULL));
  breaker_record(&b, 3, false, 200); /* exactly the limit is not slow: resets the run */
  assert_int_equal(snap(&b).consecutive_failures, 0);
  for (int i = 0; i < 3; i++) {
    assert_true(breaker_allow(&b, 10 + i, NULL));
    breaker_record(&b, 10 + i, false, 5000);
  }
  breaker_stats s = snap(&b);
  assert_int_equal(s.state, BREAKER_OPEN);
  assert_int_equal(s.failures, 5);
  /* a slow probe re-opens it */
  assert_true(breaker_allow(&b, 1012, NULL));
  breaker_record(&b, 1400, false, 388);
  assert_int_equal(snap(&b).state, BREAKER_OPEN);
  assert_int_equal(snap(&b).opened_at_ms, 1400);
  breaker_destroy(&b);

  /* slow_call_ms 0: latency never matters */
  breaker_init(&b, &(breaker_config){.failure_threshold = 1});
  assert_true(breaker_allow(&b, 0, NULL));
  breaker_record(&b, 0, false, INT64_MAX);
  assert_int_equal(snap(&b).state, BREAKER_CLOSED);
  breaker_destroy(&b);
}

static void test_state_names(void **state) {
  (void)state;
  assert_string_equal(breaker_state_name(BREAKER_CLOSED), "closed");
  assert_string_equal(breaker_state_name(BREAKER_OPEN), "open");
  assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
}

/* ---- threads ---- */

#define THREADS 8
#define CALLS 20000

typedef struct worker {
  breaker *b;
  atomic_llong *clock;
  pthread_barrier_t *start;
  int id;
  long allowed, refused, failed;
} worker;

/* Calls on a shared fake clock that every call advances; three calls in four fail, so the
 * breaker keeps opening, probing and closing while the threads race (however the threads
 * happen to be scheduled, two failures in a row come). */
static void *work(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(w->start);
  for (int i = 0; i < CALLS; i++) {
    int64_t now = atomic_fetch_add(w->clock, 1);
    if (!breaker_allow(w->b, now, NULL)) {
      w->refused++;
      continue;
    }
    w->allowed++;
    bool fail = (i + w->id) % 4 != 0;
    w->failed += fail;
    breaker_record(w->b, atomic_load(w->clock), fail, 1);
  }
  return NULL;
}

static void test_threads_counters_add_up(void **state) {
  (void)state;
  breaker b;
  breaker_init(&b, &(breaker_config){.failure_threshold = 2, .open_ms = 50});
  atomic_llong clock = 0;
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, THREADS);
  worker w[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.b = &b, .clock = &clock, .start = &start, .id = i};
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  long allowed = 0, refused = 0, failed = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    allowed += w[i].allowed;
    refused += w[i].refused;
    failed += w[i].failed;
  }
  pthread_barrier_destroy(&start);
  breaker_stats s = snap(&b);
  assert_int_equal(allowed + refused, (long)THREADS * CALLS);
  assert_int_equal(s.requests, (uint64_t)allowed);
  assert_int_equal(s.rejected, (uint64_t)refused);
  assert_int_equal(s.failures, (uint64_t)failed);
  assert_true(refused > 0); /* it did open */
  assert_int_not_equal(s.state, BREAKER_HALF_OPEN); /* every probe was recorded */
  breaker_destroy(&b);
}

typedef struct prober {
  breaker *b;
  pthread_barrier_t *start;
  atomic_int *through;
} prober;

static void *probe(void *arg) {
  prober *p = arg;
  pthread_barrier_wait(p->start);
  if (breaker_allow(p->b, 1000, NULL)) atomic_fetch_add(p->through, 1);
  return NULL;
}

static void test_threads_racing_for_the_probe_let_one_through(void **state) {
  (void)state;
  for (int round = 0; round < 50; round++) {
    breaker b;
    breaker_init(&b, &(breaker_config){.failure_threshold = 1, .open_ms = 500});
    fail_n(&b, 1, 0);
    atomic_int through = 0;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    prober p = {.b = &b, .start = &start, .through = &through};
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, probe, &p), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    assert_int_equal(atomic_load(&through), 1);
    breaker_stats s = snap(&b);
    assert_int_equal(s.state, BREAKER_HALF_OPEN);
    assert_int_equal(s.rejected, THREADS - 1);
    breaker_destroy(&b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_apply_to_null_or_zero_config),
      cmocka_unit_test(test_threshold_of_consecutive_failures_opens_it),
      cmocka_unit_test(test_half_open_lets_exactly_one_probe_through),
      cmocka_unit_test(test_probe_success_closes_it),
      cmocka_unit_test(test_probe_failure_reopens_it_for_open_ms),
      cmocka_unit_test(test_outcomes_of_calls_from_before_it_opened_change_nothing),
      cmocka_unit_test(test_slow_successes_count_as_failures),
      cmocka_unit_test(test_state_names),
      cmocka_unit_test(test_threads_counters_add_up),
      cmocka_unit_test(test_threads_racing_for_the_probe_let_one_through),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
