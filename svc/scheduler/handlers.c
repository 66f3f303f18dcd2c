/* The scheduler's admin methods and their table: jobs with next slot and last run, a job's runs
 * (AIP pagination), a run triggered now through the lease, and enabling or disabling a schedule. */
#include <string.h>

#include "common/page_token.h"
#include "common/pb_time.h"
#include "svc/scheduler/scheduler.h"

static rpc_status job_not_found(rpc_ctx *ctx, const char *name) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "JOB_NOT_FOUND", "no job named \"%s\"", name);
}

static Metro__Scheduler__V1__Job *job_message(rpc_ctx *ctx, const sch_job *j) {
  Metro__Scheduler__V1__Job *m = RPC_NEW(ctx, Metro__Scheduler__V1__Job, metro__scheduler__v1__job__init);
  m->name = (char *)j->name;
  m->schedule = (char *)j->schedule;
  m->method = (char *)j->method;
  m->request = sch_json_struct(ctx, j->request_json);
  m->enabled = j->enabled;
  m->description = (char *)j->description;
  int64_t next = j->enabled ? sch_next_run(j->schedule, sch_now_us(&sch_st(ctx)->settings) / 1000000) : -1;
  m->next_run_time = next > 0 ? pb_timestamp(ctx, next * 1000000) : NULL;
  m->last_run = j->last_run;
  m->update_time = pb_timestamp(ctx, j->updated_us);
  return m;
}

static rpc_status list_jobs(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Scheduler__V1__ListJobsRequest *r = (const void *)msg;
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "job", r->page_size, r->page_token, 50, 100, &cur);
  if (!rpc_ok(st)) return st;
  sch_job *jobs;
  int n;
  if (!rpc_ok(st = sch_jobs_list(ctx, false, cur.after_us, cur.after_id, cur.page_size + 1, &jobs, &n))) return st;
  int shown = n > cur.page_size ? cur.page_size : n;
  Metro__Scheduler__V1__ListJobsResponse *resp =
      RPC_NEW(ctx, Metro__Scheduler__V1__ListJobsResponse, metro__scheduler__v1__list_jobs_response__init);
  resp->jobs = arena_alloc(ctx->arena, sizeof *resp->jobs * (size_t)(shown ? shown : 1));
  for (int i = 0; i < shown; i++) resp->jobs[resp->n_jobs++] = job_message(ctx, &jobs[i]);
  if (n > shown)
    resp->next_page_token = (char *)page_token_make(ctx, "job", jobs[shown - 1].created_us, jobs[shown - 1].job_id);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_job(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Scheduler__V1__GetJobRequest *r = (const void *)msg;
  sch_job *j;
  rpc_status st = sch_job_get(ctx, r->name, &j);
  if (!rpc_ok(st)) return st;
  if (!j) return job_not_found(ctx, r->name);
  *out = &job_message(ctx, j)->base;
  return RPC_OK;
}

static rpc_status list_runs(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Scheduler__V1__ListJobRunsRequest *r = (const void *)msg;
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "run", r->page_size, r->page_token, 20, 100, &cur);
  if (!rpc_ok(st)) return st;
  sch_job *j;
  if (!rpc_ok(st = sch_job_get(ctx, r->name, &j))) return st;
  if (!j) return job_not_found(ctx, r->name);
  Metro__Scheduler__V1__JobRun **runs;
  int n;
  if (!rpc_ok(st = sch_runs_list(ctx, r->name, cur.after_us, cur.after_id, cur.page_size + 1, &runs, &n))) return st;
  int shown = n > cur.page_size ? cur.page_size : n;
  Metro__Scheduler__V1__ListJobRunsResponse *resp =
      RPC_NEW(ctx, Metro__Scheduler__V1__ListJobRunsResponse, metro__scheduler__v1__list_job_runs_response__init);
  resp->runs = runs;
  resp->n_runs = (size_t)shown;
  if (n > shown) {
    const Metro__Scheduler__V1__JobRun *last = runs[shown - 1];
    resp->next_page_token = (char *)page_token_make(ctx, "run", pb_timestamp_us(last->scheduled_for), last->run_id);
  }
  *out = &resp->base;
  return RPC_OK;
}

/* A run scheduled for now, claimed like any other (so it is recorded once and another replica
 * takes it over should this one die), carried out here, and answered as recorded. */
static rpc_status trigger_job(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Scheduler__V1__TriggerJobRequest *r = (const void *)msg;
  sch_job *j;
  rpc_status st = sch_job_get(ctx, r->name, &j);
  if (!rpc_ok(st)) return st;
  if (!j) return job_not_found(ctx, r->name);
  sch_claim *c;
  st = sch_run_claim(ctx, j, sch_now_us(&sch_st(ctx)->settings), "manual", ctx->caller.user_id, &c);
  if (!rpc_ok(st)) return st;
  if (!c)
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "RUN_EXISTS",
                     "a run of %s is scheduled for this very microsecond; trigger again", r->name);
  sch_run_execute(ctx, c);
  Metro__Scheduler__V1__JobRun *run;
  if (!rpc_ok(st = sch_run_get(ctx, c->run_id, &run))) return st;
  if (!run) return rpc_internal("scheduler: a triggered run vanished");
  *out = &run->base;
  return RPC_OK;
}

static rpc_status set_enabled(rpc_ctx *ctx, const char *name, bool enabled, ProtobufCMessage **out) {
  sch_job *j;
  rpc_status st = sch_job_set_enabled(ctx, name, enabled, &j);
  if (!rpc_ok(st)) return st;
  if (!j) return job_not_found(ctx, name);
  *out = &job_message(ctx, j)->base;
  return RPC_OK;
}

static rpc_status enable_job(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return set_enabled(ctx, ((const Metro__Scheduler__V1__EnableJobRequest *)msg)->name, true, out);
}

static rpc_status disable_job(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  return set_enabled(ctx, ((const Metro__Scheduler__V1__DisableJobRequest *)msg)->name, false, out);
}

static const rpc_method_impl methods[] = {
    {"ListJobs", list_jobs, 0},
    {"GetJob", get_job, 0},
    {"ListJobRuns", list_runs, 0},
    /* The run, not the caller, bounds a triggered call (the lease and METRO_JOB_TIMEOUT_MS). */
    {"TriggerJob", trigger_job, 600000},
    {"EnableJob", enable_job, 0},
    {"DisableJob", disable_job, 0},
};

const rpc_service_impl scheduler_service_impl = {
    .descriptor = &metro__scheduler__v1__scheduler_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
