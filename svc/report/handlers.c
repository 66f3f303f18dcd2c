/* The report service's methods and their table: analytics of a period, report records and their
 * CSV and chart files, templates and schedules CRUD, and the scheduler's RunDueSchedules. */
#include <string.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/page_token.h"
#include "common/pb_time.h"
#include "svc/report/report.h"

static int64_t now_s(void) { return clock_real_ms() / 1000; }

/* A local date parameter: empty means today when allowed. */
static rpc_status date_param(rpc_ctx *ctx, const char *field, const char *value, bool empty_is_today, int32_t *day) {
  if ((!value || !*value) && empty_is_today) {
    *day = rp_local_day(now_s());
    return RPC_OK;
  }
  if (!value || !rp_date_parse(value, day))
    return rpc_invalid(ctx->arena, field, "INVALID_DATE", "%s must be a date YYYY-MM-DD between %d and %d", field,
                       RP_MIN_YEAR, RP_MAX_YEAR);
  return RPC_OK;
}

static rpc_status get_analytics(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__GetAnalyticsRequest *r = (const void *)msg;
  rp_period_kind kind;
  if (!r->period || !rp_period_kind_parse(r->period, false, &kind))
    return rpc_invalid(ctx->arena, "period", "INVALID_PERIOD", "period must be daily, weekly or monthly");
  int32_t day;
  rpc_status st = date_param(ctx, "date", r->date, true, &day);
  if (!rpc_ok(st)) return st;
  rp_period p = rp_period_containing(kind, day);
  Metro__Report__V1__Analytics *an;
  /* One snapshot for every query, so the sections agree with each other. */
  if (!rpc_ok(st = pg_exec(ctx->arena, NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL))) return st;
  st = rp_analytics(ctx, &p, now_s(), &an);
  if (rpc_ok(st)) st = pg_commit(ctx->arena);
  if (!rpc_ok(st)) {
    pg_rollback();
    return st;
  }
  *out = &an->base;
  return RPC_OK;
}

static rpc_status report_not_found(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "REPORT_NOT_FOUND", "no such report");
}

static rpc_status create_report(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__CreateReportRequest *r = (const void *)msg;
  int32_t first, last;
  rpc_status st = date_param(ctx, "startDate", r->start_date, false, &first);
  if (!rpc_ok(st) || !rpc_ok(st = date_param(ctx, "endDate", r->end_date, false, &last))) return st;
  if (last < first) return rpc_invalid(ctx->arena, "endDate", "INVALID_RANGE", "endDate is before startDate");
  rp_report_new n = {.requested_by = ctx->caller.user_id ? ctx->caller.user_id : "service", .status = "pending"};
  if (!rp_period_custom(first, last, RP_MAX_CUSTOM_DAYS, &n.period))
    return rpc_invalid(ctx->arena, "endDate", "RANGE_TOO_LONG", "a report covers at most %d days", RP_MAX_CUSTOM_DAYS);
  if (r->request_id && *r->request_id) {
    if (!crypto_uuid_valid(r->request_id))
      return rpc_invalid(ctx->arena, "requestId", "INVALID_REQUEST_ID", "requestId must be a UUID");
    Metro__Report__V1__Report *again;
    if (!rpc_ok(st = rp_report_find_request(ctx, r->request_id, &again))) return st;
    if (again) {
      *out = &again->base;
      return RPC_OK;
    }
    n.request_id = r->request_id;
  }
  if (r->template_id && *r->template_id) {
    Metro__Report__V1__ReportTemplate *t;
    st = rp_template_get(ctx, r->template_id, &t);
    if (st.code == GRPC_STATUS_NOT_FOUND)
      return rpc_invalid(ctx->arena, "templateId", "UNKNOWN_TEMPLATE", "templateId names no report template");
    if (!rpc_ok(st)) return st;
    n.template_id = t->template_id;
    n.sections = t->sections;
    n.n_sections = t->n_sections;
  }
  Metro__Report__V1__Report *rep;
  st = rp_report_insert(ctx, &n, &rep);
  if (st.code == GRPC_STATUS_ALREADY_EXISTS && n.request_id) { /* the same request id, concurrently */
    if (rpc_ok(st = rp_report_find_request(ctx, n.request_id, &rep)) && !rep) return report_not_found(ctx);
  }
  if (!rpc_ok(st)) return st;
  *out = &rep->base;
  return RPC_OK;
}

static rpc_status list_reports(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__ListReportsRequest *r = (const void *)msg;
  rp_period_kind kind;
  if (r->type && *r->type && !rp_period_kind_parse(r->type, true, &kind))
    return rpc_invalid(ctx->arena, "type", "INVALID_TYPE", "type must be daily, weekly, monthly or custom");
  static const char *const statuses[] = {"pending", "processing", "completed", "failed"};
  bool status_ok = !r->status || !*r->status;
  for (size_t i = 0; i < 4 && !status_ok; i++) status_ok = strcmp(r->status, statuses[i]) == 0;
  if (!status_ok)
    return rpc_invalid(ctx->arena, "status", "INVALID_STATUS", "status must be pending, processing, completed or failed");
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "rep", r->page_size, r->page_token, 20, 100, &cur);
  if (!rpc_ok(st)) return st;
  Metro__Report__V1__Report **rows;
  int n;
  if (!rpc_ok(st = rp_report_list(ctx, r->type, r->status, cur.after_us, cur.after_id, cur.page_size + 1, &rows, &n)))
    return st;
  int shown = n > cur.page_size ? cur.page_size : n;
  Metro__Report__V1__ListReportsResponse *resp =
      RPC_NEW(ctx, Metro__Report__V1__ListReportsResponse, metro__report__v1__list_reports_response__init);
  resp->reports = rows;
  resp->n_reports = (size_t)shown;
  if (n > shown)
    resp->next_page_token = (char *)page_token_make(ctx, "rep", pb_timestamp_us(rows[shown - 1]->create_time),
                                                    rows[shown - 1]->report_id);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status get_report(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__GetReportRequest *r = (const void *)msg;
  Metro__Report__V1__Report *rep;
  rpc_status st = rp_report_get(ctx, r->report_id, true, &rep, NULL);
  if (!rpc_ok(st)) return st;
  if (!rep) return report_not_found(ctx);
  *out = &rep->base;
  return RPC_OK;
}

/* A completed report (with its items when with_items) and its analytics, or the error a download
 * answers. */
static rpc_status completed_report(rpc_ctx *ctx, const char *report_id, bool with_items,
                                   Metro__Report__V1__Report **rep, Metro__Report__V1__Analytics **an) {
  rpc_status st = rp_report_get(ctx, report_id, with_items, rep, an);
  if (!rpc_ok(st)) return st;
  if (!*rep) return report_not_found(ctx);
  if (!*an)
    return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "REPORT_NOT_READY", "report %s is %s, not completed",
                     (*rep)->report_id, (*rep)->status);
  return RPC_OK;
}

/* A file answer: 200, its type, inline or as an attachment; completed reports never change. */
static Metro__Api__V1__HttpResponse *file_response(rpc_ctx *ctx, const char *content_type, const char *disposition,
                                                   const char *data, size_t len) {
  Metro__Api__V1__HttpResponse *resp = RPC_NEW(ctx, Metro__Api__V1__HttpResponse, metro__api__v1__http_response__init);
  resp->status = 200;
  resp->content_type = (char *)content_type;
  resp->body = (ProtobufCBinaryData){len, (uint8_t *)data};
  static const char *const names[] = {"Content-Disposition", "Cache-Control"};
  const char *values[] = {disposition, "private, max-age=3600"};
  resp->n_headers = 2;
  resp->headers = arena_alloc(ctx->arena, resp->n_headers * sizeof *resp->headers);
  for (size_t i = 0; i < resp->n_headers; i++) {
    Metro__Api__V1__HttpHeader *h = RPC_NEW(ctx, Metro__Api__V1__HttpHeader, metro__api__v1__http_header__init);
    h->name = (char *)names[i];
    h->value = (char *)values[i];
    resp->headers[i] = h;
  }
  return resp;
}

static rpc_status download_csv(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__DownloadReportCsvRequest *r = (const void *)msg;
  Metro__Report__V1__Report *rep;
  Metro__Report__V1__Analytics *an;
  rpc_status st = completed_report(ctx, r->report_id, true, &rep, &an);
  if (!rpc_ok(st)) return st;
  size_t len;
  char *csv = rp_csv(ctx->arena, rep->items, rep->n_items, &len);
  const char *disposition = arena_printf(ctx->arena, "attachment; filename=\"metro-report-%s_%s-%s.csv\"",
                                         rep->start_date, rep->end_date, rep->report_id);
  *out = &file_response(ctx, "text/csv; charset=utf-8; header=present", disposition, csv, len)->base;
  return RPC_OK;
}

static rpc_status get_chart(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__GetReportChartRequest *r = (const void *)msg;
  Metro__Report__V1__Report *rep;
  Metro__Report__V1__Analytics *an;
  rpc_status st = completed_report(ctx, r->report_id, false, &rep, &an);
  if (!rpc_ok(st)) return st;
  if (!r->chart || !rp_chart_known(r->chart))
    return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "CHART_NOT_FOUND",
                     "no such chart (revenue-by-day, taps-by-station, journeys-by-line, activity)");
  size_t len;
  char *svg = rp_chart_render(ctx->arena, r->chart, an, &len);
  if (!svg) return rpc_internal("report: a known chart did not render");
  const char *disposition = arena_printf(ctx->arena, "inline; filename=\"%s.svg\"", r->chart);
  *out = &file_response(ctx, "image/svg+xml", disposition, svg, len)->base;
  return RPC_OK;
}

/* ---- templates ---- */

static rpc_status create_template(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  Metro__Report__V1__ReportTemplate *t;
  rpc_status st = rp_template_create(ctx, ((const Metro__Report__V1__CreateReportTemplateRequest *)msg)->template_, &t);
  if (rpc_ok(st)) *out = &t->base;
  return st;
}

static rpc_status list_templates(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__ListReportTemplatesRequest *r = (const void *)msg;
  Metro__Report__V1__ListReportTemplatesResponse *resp;
  rpc_status st = rp_template_list(ctx, r->page_size, r->page_token, &resp);
  if (rpc_ok(st)) *out = &resp->base;
  return st;
}

static rpc_status get_template(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  Metro__Report__V1__ReportTemplate *t;
  rpc_status st = rp_template_get(ctx, ((const Metro__Report__V1__GetReportTemplateRequest *)msg)->template_id, &t);
  if (rpc_ok(st)) *out = &t->base;
  return st;
}

static rpc_status update_template(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__UpdateReportTemplateRequest *r = (const void *)msg;
  Metro__Report__V1__ReportTemplate *t;
  rpc_status st = rp_template_update(ctx, r->template_, r->update_mask, &t);
  if (rpc_ok(st)) *out = &t->base;
  return st;
}

static rpc_status delete_template(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  rpc_status st = rp_template_delete(ctx, ((const Metro__Report__V1__DeleteReportTemplateRequest *)msg)->template_id);
  if (rpc_ok(st))
    *out = &RPC_NEW(ctx, Metro__Report__V1__DeleteReportTemplateResponse,
                    metro__report__v1__delete_report_template_response__init)->base;
  return st;
}

/* ---- schedules ---- */

static rpc_status create_schedule(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  Metro__Report__V1__ReportSchedule *s;
  rpc_status st = rp_schedule_create(ctx, ((const Metro__Report__V1__CreateReportScheduleRequest *)msg)->schedule, &s);
  if (rpc_ok(st)) *out = &s->base;
  return st;
}

static rpc_status list_schedules(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__ListReportSchedulesRequest *r = (const void *)msg;
  Metro__Report__V1__ListReportSchedulesResponse *resp;
  rpc_status st = rp_schedule_list(ctx, r->page_size, r->page_token, &resp);
  if (rpc_ok(st)) *out = &resp->base;
  return st;
}

static rpc_status get_schedule(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  Metro__Report__V1__ReportSchedule *s;
  rpc_status st = rp_schedule_get(ctx, ((const Metro__Report__V1__GetReportScheduleRequest *)msg)->schedule_id, &s);
  if (rpc_ok(st)) *out = &s->base;
  return st;
}

static rpc_status update_schedule(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__UpdateReportScheduleRequest *r = (const void *)msg;
  Metro__Report__V1__ReportSchedule *s;
  rpc_status st = rp_schedule_update(ctx, r->schedule, r->update_mask, &s);
  if (rpc_ok(st)) *out = &s->base;
  return st;
}

static rpc_status delete_schedule(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  rpc_status st = rp_schedule_delete(ctx, ((const Metro__Report__V1__DeleteReportScheduleRequest *)msg)->schedule_id);
  if (rpc_ok(st))
    *out = &RPC_NEW(ctx, Metro__Report__V1__DeleteReportScheduleResponse,
                    metro__report__v1__delete_report_schedule_response__init)->base;
  return st;
}

static rpc_status run_due(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Report__V1__RunDueSchedulesRequest *r = (const void *)msg;
  if (r->max_schedules < 0 || r->max_schedules > 500)
    return rpc_invalid(ctx->arena, "maxSchedules", "INVALID_MAX_SCHEDULES", "maxSchedules must be 0-500");
  Metro__Report__V1__RunDueSchedulesResponse *resp =
      RPC_NEW(ctx, Metro__Report__V1__RunDueSchedulesResponse, metro__report__v1__run_due_schedules_response__init);
  rpc_status st = rp_run_due_schedules(ctx, r->max_schedules ? r->max_schedules : 50, resp);
  if (rpc_ok(st)) *out = &resp->base;
  return st;
}

static const rpc_method_impl methods[] = {
    {"GetAnalytics", get_analytics, 0},
    {"CreateReport", create_report, 0},
    {"ListReports", list_reports, 0},
    {"GetReport", get_report, 0},
    {"DownloadReportCsv", download_csv, 0},
    {"GetReportChart", get_chart, 0},
    {"CreateReportTemplate", create_template, 0},
    {"ListReportTemplates", list_templates, 0},
    {"GetReportTemplate", get_template, 0},
    {"UpdateReportTemplate", update_template, 0},
    {"DeleteReportTemplate", delete_template, 0},
    {"CreateReportSchedule", create_schedule, 0},
    {"ListReportSchedules", list_schedules, 0},
    {"GetReportSchedule", get_schedule, 0},
    {"UpdateReportSchedule", update_schedule, 0},
    {"DeleteReportSchedule", delete_schedule, 0},
    /* Generating several reports may take a while; the scheduler's job bounds it too. */
    {"RunDueSchedules", run_due, 120000},
};

const rpc_service_impl report_service_impl = {
    .descriptor = &metro__report__v1__report_service__descriptor,
    .methods = methods,
    .n_methods = sizeof methods / sizeof methods[0],
};
