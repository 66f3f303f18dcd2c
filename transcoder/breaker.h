/* A per-backend circuit breaker: consecutive failures (or slow calls) open it, it refuses calls
 * while open, then lets one probe through whose outcome closes or re-opens it. Thread-safe. */
#ifndef METRO_BREAKER_H
#define METRO_BREAKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define BREAKER_DEFAULT_FAILURE_THRESHOLD 5
#define BREAKER_DEFAULT_OPEN_MS 5000
/* How long a caller refused during a half-open probe is told to wait (capped at open_ms). */
#define BREAKER_PROBE_RETRY_MS 1000

typedef struct breaker_config {
  int failure_threshold; /* consecutive failures that open it; <= 0 means the default (5) */
  int open_ms;           /* how long it stays open before a half-open probe; <= 0: 5000 */
  int slow_call_ms;      /* a success slower than this counts as a failure; <= 0: off */
} breaker_config;

typedef enum { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state;

typedef struct breaker {
  pthread_mutex_t mu; /* guards everything below */
  breaker_config cfg;
  breaker_state state; /* HALF_OPEN: the one probe is out, its outcome not recorded yet */
  int consecutive_failures;
  int64_t opened_at_ms;
  uint64_t requests, failures, rejected;
} breaker;

/* A consistent copy of a breaker's state and counters. */
typedef struct breaker_stats {
  breaker_state state;
  int consecutive_failures;
  int64_t opened_at_ms; /* when it last opened; 0 if never */
  uint64_t requests;    /* calls let through */
  uint64_t failures;    /* calls recorded as failed, slow ones included */
  uint64_t rejected;    /* calls refused while open or during a probe */
} breaker_stats;

/* cfg may be NULL (every default). The breaker starts closed. */
void breaker_init(breaker *b, const breaker_config *cfg);
void breaker_destroy(breaker *b);

/* Whether a call may go to the backend now. Closed: yes. Open: no until open_ms have passed
 * since it opened, then it turns half-open and lets exactly one probe through; while that probe
 * is out every other call is refused. A refusal sets *retry_after_ms (may be NULL) to the
 * milliseconds worth waiting (>= 1). Every call let through must be followed by exactly one
 * breaker_record, or a half-open breaker waits for its probe for ever. */
bool breaker_allow(breaker *b, int64_t now_ms, int64_t *retry_after_ms);

/* The outcome of a call breaker_allow let through; a success slower than slow_call_ms is a
 * failure. Closed: failure_threshold consecutive failures open it. Half-open: the probe's
 * success closes it, its failure re-opens it for open_ms. Open: outcomes of calls let through
 * before it opened count but change nothing. Outcomes carry no identity, so while half-open the
 * first outcome recorded is taken as the probe's. */
void breaker_record(breaker *b, int64_t now_ms, bool failure, int64_t latency_ms);

void breaker_snapshot(const breaker *b, breaker_stats *out);

/* "closed", "open", "half_open": for logs and metric labels. */
const char *breaker_state_name(breaker_state s);

#endif
