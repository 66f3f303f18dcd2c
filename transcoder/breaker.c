/* The circuit breaker's state machine (closed -> open -> half-open -> closed or open again),
 * driven by the caller's clock so that it is pure and testable; one mutex per breaker. */
#include "transcoder/breaker.h"

#include <stdlib.h>

static void br_lock(const breaker *b) {
  if (pthread_mutex_lock((pthread_mutex_t *)&b->mu) != 0) abort();
}

static void br_unlock(const breaker *b) { pthread_mutex_unlock((pthread_mutex_t *)&b->mu); }

void breaker_init(breaker *b, const breaker_config *cfg) {
  *b = (breaker){.state = BREAKER_CLOSED};
  if (cfg) b->cfg = *cfg;
  if (b->cfg.failure_threshold <= 0) b->cfg.failure_threshold = BREAKER_DEFAULT_FAILURE_THRESHOLD;
  if (b->cfg.open_ms <= 0) b->cfg.open_ms = BREAKER_DEFAULT_OPEN_MS;
  if (b->cfg.slow_call_ms < 0) b->cfg.slow_call_ms = 0;
  if (pthread_mutex_init(&b->mu, NULL) != 0) abort();
}

void breaker_destroy(breaker *b) { pthread_mutex_destroy(&b->mu); }

static void br_open(breaker *b, int64_t now_ms) {
  b->state = BREAKER_OPEN;
  b->opened_at_ms = now_ms;
}

bool breaker_allow(breaker *b, int64_t now_ms, int64_t *retry_after_ms) {
  br_lock(b);
  int64_t wait = 0;
  if (b->state == BREAKER_OPEN) {
    int64_t until = b->opened_at_ms + b->cfg.open_ms;
    if (now_ms >= until) b->state = BREAKER_HALF_OPEN; /* this caller is the probe */
    else wait = until - now_ms;
  } else if (b->state == BREAKER_HALF_OPEN) {
    /* the probe is out: half-open lasts exactly until its outcome is recorded */
    wait = b->cfg.open_ms < BREAKER_PROBE_RETRY_MS ? b->cfg.open_ms : BREAKER_PROBE_RETRY_MS;
  }
  if (wait > 0) b->rejected++;
  else b->requests++;
  br_unlock(b);
  if (wait > 0 && retry_after_ms) *retry_after_ms = wait;
  return wait == 0;
}

void breaker_record(breaker *b, int64_t now_ms, bool failure, int64_t latency_ms) {
  br_lock(b);
  bool failed = failure || (b->cfg.slow_call_ms > 0 && latency_ms > b->cfg.slow_call_ms);
  if (failed) {
    b->failures++;
    if (b->consecutive_failures < INT32_MAX) b->consecutive_failures++;
  }
  switch (b->state) {
    case BREAKER_CLOSED:
      if (!failed) b->consecutive_failures = 0;
      else if (b->consecutive_failures >= b->cfg.failure_threshold) br_open(b, now_ms);
      break;
    case BREAKER_HALF_OPEN:
      if (failed) {
        br_open(b, now_ms);
      } else {
        b->state = BREAKER_CLOSED;
        b->consecutive_failures = 0;
      }
      break;
    case BREAKER_OPEN:
      break; /* a call let through before it opened: counted, decides nothing */
  }
  br_unlock(b);
}

void breaker_snapshot(const breaker *b, breaker_stats *out) {
  br_lock(b);
  *out = (breaker_stats){.state = b->state,
                            .consecutive_failures = b->consecutive_failures,
                            .opened_at_ms = b->opened_at_ms,
                            .requests = b->requests,
                            .failures = b->failures,
                            .rejected = b->rejected};
  br_unlock(b);
}

const char *breaker_state_name(breaker_state s) {
  switch (s) {
    case BREAKER_CLOSED: return "closed";
    case BREAKER_OPEN: return "open";
    case BREAKER_HALF_OPEN: return "half_open";
  }
  return "unknown";
}
