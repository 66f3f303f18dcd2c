/* The scheduler service's shared declarations: settings and state, the schedule specs, the
 * lease rules, the jobs and runs tables, target calls, run execution and the ticker. */
#ifndef METRO_SCHEDULER_H
#define METRO_SCHEDULER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/rpc_server.h"
#include "metro/scheduler/v1/scheduler.pb-c.h"

typedef struct sch_settings {
  /* Target addresses, keyed by the second segment of the target's package ("ticket"). */
  char *ticket_addr, *payment_addr, *control_addr, *public_addr, *report_addr;
  int64_t lease_s;          /* a claimed run is this replica's for this long */
  int64_t call_timeout_ms;  /* deadline of one target call (also bounded by the lease) */
  int64_t max_attempts;     /* a run whose lease expired this often is recorded failed */
  int64_t tick_ms;          /* how often the ticker looks for due runs */
  bool ticker;              /* false: only triggered runs (test stacks) */
  int64_t clock_offset_s;   /* tests: added to the wall clock when slots are computed */
  int64_t hold_ms;          /* tests: pause after claiming a run, before its call */
  char *replica;            /* lease owner name; "" = host:pid:random */
} sch_settings;

typedef struct sch_state {
  sch_settings settings;
  char owner[160]; /* this replica's lease owner name */
} sch_state;

static inline sch_state *sch_st(const rpc_ctx *ctx) { return (sch_state *)ctx->state; }

/* Asia/Ho_Chi_Minh: UTC+7 all year. */
#define SCH_TZ_OFFSET_S (7 * 3600)

/* ==== spec.c: schedule specs and their slots (pure) ==== */

typedef enum sch_kind { SCH_EVERY, SCH_HOURLY, SCH_DAILY } sch_kind;

typedef struct sch_spec {
  sch_kind kind;
  int every_min; /* SCH_EVERY: N in 1-60; slots at minutes 0, N, 2N... of each local hour */
  int hour;      /* SCH_DAILY: 0-23 */
  int minute;    /* SCH_HOURLY, SCH_DAILY: 0-59 */
} sch_spec;

/* "every 5m", "hourly :00", "daily 08:00" exactly (no spaces around); false otherwise. */
bool sch_spec_parse(const char *text, sch_spec *out);
/* The first slot strictly after after_unix, or -1 when the spec does not parse. */
int64_t sch_next_run(const char *spec, int64_t after_unix);
/* The latest slot at or before at_unix, or -1 when the spec does not parse. */
int64_t sch_prev_run(const char *spec, int64_t at_unix);

/* ==== lease.c: what a replica does with a run (pure) ==== */

typedef enum sch_lease_verdict {
  SCH_LEASE_DONE,     /* finished: nothing to do */
  SCH_LEASE_HELD,     /* another replica holds a live lease: leave it */
  SCH_LEASE_RECLAIM,  /* its holder died (lease expired): take it over and run it */
  SCH_LEASE_GIVE_UP,  /* expired too often: record it failed without running it again */
} sch_lease_verdict;

sch_lease_verdict sch_lease_decide(bool finished, int64_t lease_expires_us, int64_t now_us, int attempts,
                                   int max_attempts);
/* The absolute deadline (ms) of a run's target call: now + timeout, but ending a safety margin
 * before the lease does, so a run never outlives its lease. */
int64_t sch_call_deadline_ms(int64_t now_ms, int64_t timeout_ms, int64_t lease_until_ms);
/* The slot the ticker should try for a job: the latest slot at or before now, unless it is the
 * one already handled (then 0). -1 for a bad spec. */
int64_t sch_due_slot(const char *spec, int64_t now_unix, int64_t handled_slot);

/* ==== clock.c ==== */

/* Wall-clock µs plus METRO_SCHEDULER_CLOCK_OFFSET_S: what slots are computed against. */
int64_t sch_now_us(const sch_settings *s);
int64_t sch_mono_ms(void);
/* Sleeps ms in slices, returning early when *stop becomes true (stop may be NULL). */
void sch_sleep_ms(int64_t ms, const atomic_bool *stop);

/* ==== store.c: the jobs and runs tables ==== */

typedef struct sch_job {
  const char *name, *job_id, *schedule, *method, *request_json, *description;
  bool enabled;
  int64_t created_us, updated_us;
  Metro__Scheduler__V1__JobRun *last_run; /* NULL when never run */
} sch_job;

/* A run this replica holds the lease of. */
typedef struct sch_claim {
  const char *run_id, *job, *method, *request_json;
  int64_t scheduled_us;
  int attempts;           /* the lease generation: finishing is fenced on it */
  int64_t lease_until_ms; /* local monotonic ms by which the run must be over */
} sch_claim;

rpc_status sch_jobs_list(rpc_ctx *ctx, bool enabled_only, const char *after_us, const char *after_id, int limit,
                         sch_job **jobs, int *n);
/* *out NULL when there is no such job. */
rpc_status sch_job_get(rpc_ctx *ctx, const char *name, sch_job **out);
rpc_status sch_job_set_enabled(rpc_ctx *ctx, const char *name, bool enabled, sch_job **out);

/* INSERT ... ON CONFLICT DO NOTHING with this replica's lease: *out NULL when the run of
 * (job, scheduled_us) exists already (another replica, or this one earlier, has it). */
rpc_status sch_run_claim(rpc_ctx *ctx, const sch_job *job, int64_t scheduled_us, const char *trigger,
                         const char *triggered_by, sch_claim **out);
/* Takes over one run whose lease expired (or records it failed after max_attempts);
 * *out NULL when there is none to run. */
rpc_status sch_run_reclaim(rpc_ctx *ctx, sch_claim **out);
/* Records the outcome, fenced on (owner, attempts); *kept false when the lease was lost. */
rpc_status sch_run_finish(rpc_ctx *ctx, const sch_claim *c, bool succeeded, const char *response_json,
                          const char *error, bool *kept);
rpc_status sch_run_get(rpc_ctx *ctx, const char *run_id, Metro__Scheduler__V1__JobRun **out);
/* A stored JSON object as google.protobuf.Struct; NULL for "" or what does not decode. */
Google__Protobuf__Struct *sch_json_struct(rpc_ctx *ctx, const char *text);
rpc_status sch_runs_list(rpc_ctx *ctx, const char *job, const char *after_us, const char *after_id, int limit,
                         Metro__Scheduler__V1__JobRun ***runs, int *n);

/* ==== targets.c: the call a run makes ==== */

/* Resolves method ("/metro.ticket.v1.TicketService/ExpireUnpaid") in the descriptor registry,
 * builds its request from request_json, calls it at its service's address as
 * "service:scheduler" with roles {service, admin}, and gives the answer as proto3 JSON.
 * A failure is the status of what went wrong: the target's own, or UNIMPLEMENTED
 * UNKNOWN_METHOD for a method this build does not know (its service has not arrived). */
rpc_status sch_target_call(rpc_ctx *ctx, const char *method, const char *request_json, int64_t timeout_ms,
                           const char **response_json);
/* The configured address of a method's service, or NULL. */
const char *sch_target_address(const sch_settings *s, const char *method);

/* ==== runner.c: a claimed run, executed and recorded ==== */

void sch_metrics_init(void);
void sch_metrics_takeover(const char *job);
/* Holds (tests), calls the target and records the outcome; false only when the record
 * could not be written (the lease then expires and the run is taken over). */
bool sch_run_execute(rpc_ctx *ctx, const sch_claim *c);

/* ==== ticker.c: the background thread ==== */

bool sch_ticker_start(sch_state *st);
void sch_ticker_stop(void);

/* ==== handlers.c ==== */

extern const rpc_service_impl scheduler_service_impl;

#endif
