/* Report schedules (domain spec §15): CRUD for admins, and the run the scheduler's job asks for
 * every minute: each due schedule's previous period generated and queued for email through the
 * outbox, in one transaction with its (schedule, period) claim, so it is sent exactly once. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/field_mask.h"
#include "common/log.h"
#include "common/page_token.h"
#include "common/pb_time.h"
#include "metro/events/v1/report_events.pb-c.h"
#include "svc/report/report.h"

#define RP_MAX_RECIPIENTS 20
#define RP_MAX_CSV_BYTES (512 * 1024)
#define RP_MAX_SVG_BYTES (256 * 1024)

#define SCHEDULE_COLUMNS                                                                                     \
  "schedule_id, template_id, frequency, run_at_minutes, array_to_string(recipients, E'\\n'), paused, " SQL_US( \
      "next_run_at") ", coalesce(" SQL_US("last_run_at") ", 0), coalesce(last_report_id::text, ''), " SQL_US(  \
      "created_at") ", " SQL_US("updated_at")

enum { F_TEMPLATE = 1, F_FREQUENCY = 2, F_RUN_AT = 4, F_RECIPIENTS = 8, F_PAUSED = 16 };

static const fm_path schedule_paths[] = {
    {"template_id", F_TEMPLATE}, {"frequency", F_FREQUENCY},   {"run_at", F_RUN_AT},     {"recipients", F_RECIPIENTS},
    {"paused", F_PAUSED},        {"schedule_id", 0},           {"next_run_time", 0},     {"last_run_time", 0},
    {"last_report_id", 0},       {"create_time", 0},           {"update_time", 0},       {NULL, 0},
};

static int64_t now_s(void) { return clock_real_ms() / 1000; }

static Metro__Report__V1__ReportSchedule *schedule_row(rpc_ctx *ctx, const PGresult *r, int i) {
  Metro__Report__V1__ReportSchedule *s =
      RPC_NEW(ctx, Metro__Report__V1__ReportSchedule, metro__report__v1__report_schedule__init);
  s->schedule_id = arena_strdup(ctx->arena, pg_value(r, i, 0));
  s->template_id = arena_strdup(ctx->arena, pg_value(r, i, 1));
  s->frequency = arena_strdup(ctx->arena, pg_value(r, i, 2));
  int minutes = atoi(pg_value(r, i, 3));
  s->run_at = arena_printf(ctx->arena, "%02d:%02d", minutes / 60, minutes % 60);
  s->recipients = rp_lines_split(ctx->arena, pg_value(r, i, 4), &s->n_recipients);
  s->paused = strcmp(pg_value(r, i, 5), "t") == 0;
  s->next_run_time = pb_timestamp(ctx, strtoll(pg_value(r, i, 6), NULL, 10));
  s->last_run_time = pb_timestamp(ctx, strtoll(pg_value(r, i, 7), NULL, 10));
  s->last_report_id = arena_strdup(ctx->arena, pg_value(r, i, 8));
  s->create_time = pb_timestamp(ctx, strtoll(pg_value(r, i, 9), NULL, 10));
  s->update_time = pb_timestamp(ctx, strtoll(pg_value(r, i, 10), NULL, 10));
  return s;
}

/* An email address as the notification service will accept it, and nothing SQL or MIME could
 * misread: 3-254 printable ASCII, one '@' inside, no spaces, quotes, brackets, separators. */
static bool recipient_valid(const char *a) {
  size_t n = strlen(a);
  if (n < 3 || n > 254) return false;
  const char *at = strchr(a, '@');
  if (!at || at == a || !at[1] || strchr(at + 1, '@')) return false;
  for (const char *p = a; *p; p++)
    if (*p <= ' ' || *p > '~' || strchr("<>,;\"\\()[]{}:", *p)) return false;
  return true;
}

static rpc_status validate(rpc_ctx *ctx, const Metro__Report__V1__ReportSchedule *s, unsigned bits) {
  rp_period_kind kind;
  if ((bits & F_FREQUENCY) && (!s->frequency || !rp_period_kind_parse(s->frequency, false, &kind)))
    return rpc_invalid(ctx->arena, "schedule.frequency", "INVALID_FREQUENCY", "frequency must be daily, weekly or monthly");
  if ((bits & F_RUN_AT) && (!s->run_at || rp_run_at_parse(s->run_at) < 0))
    return rpc_invalid(ctx->arena, "schedule.runAt", "INVALID_RUN_AT", "runAt must be a local time HH:MM (00:00-23:59)");
  if (bits & F_RECIPIENTS) {
    if (s->n_recipients < 1 || s->n_recipients > RP_MAX_RECIPIENTS)
      return rpc_invalid(ctx->arena, "schedule.recipients", "INVALID_RECIPIENTS", "give 1-%d recipients",
                         RP_MAX_RECIPIENTS);
    for (size_t i = 0; i < s->n_recipients; i++) {
      if (!recipient_valid(s->recipients[i]))
        return rpc_invalid(ctx->arena, "schedule.recipients", "INVALID_RECIPIENT",
                           "recipients[%zu] is not an email address", i);
      for (size_t k = 0; k < i; k++)
        if (strcmp(s->recipients[k], s->recipients[i]) == 0)
          return rpc_invalid(ctx->arena, "schedule.recipients", "DUPLICATE_RECIPIENT",
                             "recipients[%zu] is given twice", i);
    }
  }
  if (bits & F_TEMPLATE) {
    Metro__Report__V1__ReportTemplate *t;
    rpc_status st = rp_template_get(ctx, s->template_id, &t);
    if (st.code == GRPC_STATUS_NOT_FOUND)
      return rpc_invalid(ctx->arena, "schedule.templateId", "UNKNOWN_TEMPLATE", "templateId names no report template");
    if (!rpc_ok(st)) return st;
  }
  return RPC_OK;
}

static rpc_status not_found(rpc_ctx *ctx) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "SCHEDULE_NOT_FOUND", "no such report schedule");
}

rpc_status rp_schedule_get(rpc_ctx *ctx, const char *id, Metro__Report__V1__ReportSchedule **out) {
  if (!crypto_uuid_valid(id)) return not_found(ctx);
  const char *p[] = {id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE schedule_id = $1", 1, p);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) return not_found(ctx);
  *out = schedule_row(ctx, r, 0);
  return RPC_OK;
}

rpc_status rp_schedule_create(rpc_ctx *ctx, const Metro__Report__V1__ReportSchedule *s,
                              Metro__Report__V1__ReportSchedule **out) {
  if (!s) return rpc_invalid(ctx->arena, "schedule", "MISSING_SCHEDULE", "schedule is required");
  rpc_status st = validate(ctx, s, F_TEMPLATE | F_FREQUENCY | F_RUN_AT | F_RECIPIENTS);
  if (!rpc_ok(st)) return st;
  rp_period_kind kind;
  rp_period_kind_parse(s->frequency, false, &kind);
  int minutes = rp_run_at_parse(s->run_at);
  int64_t next = rp_next_run(kind, minutes, now_s());
  const char *p[] = {s->template_id, s->frequency, arena_printf(ctx->arena, "%d", minutes),
                     rp_lines_join(ctx->arena, s->recipients, s->n_recipients), s->paused ? "true" : "false",
                     arena_printf(ctx->arena, "%lld", (long long)next * 1000000)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "INSERT INTO schedules (template_id, frequency, run_at_minutes, recipients, paused, next_run_at) "
               "VALUES ($1, $2, $3, string_to_array($4, E'\\n'), $5, " SQL_AT("$6") ") RETURNING " SCHEDULE_COLUMNS,
               6, p);
  if (!rpc_ok(st)) return st;
  *out = schedule_row(ctx, r, 0);
  return RPC_OK;
}

rpc_status rp_schedule_update(rpc_ctx *ctx, const Metro__Report__V1__ReportSchedule *s,
                              const Google__Protobuf__FieldMask *mask, Metro__Report__V1__ReportSchedule **out) {
  if (!s) return rpc_invalid(ctx->arena, "schedule", "MISSING_SCHEDULE", "schedule is required");
  unsigned bits;
  rpc_status st = fm_mask_bits(ctx->arena, mask, schedule_paths, false, "UNKNOWN_FIELD", &bits);
  if (!rpc_ok(st)) return st;
  if (!mask || mask->n_paths == 0) bits = F_TEMPLATE | F_FREQUENCY | F_RUN_AT | F_RECIPIENTS | F_PAUSED;
  Metro__Report__V1__ReportSchedule *cur;
  if (!rpc_ok(st = rp_schedule_get(ctx, s->schedule_id, &cur))) return st;
  if (!rpc_ok(st = validate(ctx, s, bits))) return st;
  const char *frequency = (bits & F_FREQUENCY) ? s->frequency : cur->frequency;
  const char *run_at = (bits & F_RUN_AT) ? s->run_at : cur->run_at;
  rp_period_kind kind;
  rp_period_kind_parse(frequency, false, &kind);
  int minutes = rp_run_at_parse(run_at);
  /* A new frequency or time starts from now; otherwise the next run stays. */
  int64_t next_us = (bits & (F_FREQUENCY | F_RUN_AT)) ? rp_next_run(kind, minutes, now_s()) * 1000000
                                                      : pb_timestamp_us(cur->next_run_time);
  const char *p[] = {s->schedule_id,
                     (bits & F_TEMPLATE) ? s->template_id : cur->template_id,
                     frequency,
                     arena_printf(ctx->arena, "%d", minutes),
                     (bits & F_RECIPIENTS) ? rp_lines_join(ctx->arena, s->recipients, s->n_recipients)
                                           : rp_lines_join(ctx->arena, cur->recipients, cur->n_recipients),
                     ((bits & F_PAUSED) ? s->paused : cur->paused) ? "true" : "false",
                     arena_printf(ctx->arena, "%lld", (long long)next_us)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "UPDATE schedules SET template_id = $2, frequency = $3, run_at_minutes = $4, "
               "recipients = string_to_array($5, E'\\n'), paused = $6, next_run_at = " SQL_AT("$7") ", "
               "updated_at = now() WHERE schedule_id = $1 RETURNING " SCHEDULE_COLUMNS,
               7, p);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) return not_found(ctx);
  *out = schedule_row(ctx, r, 0);
  return RPC_OK;
}

rpc_status rp_schedule_delete(rpc_ctx *ctx, const char *id) {
  if (!crypto_uuid_valid(id)) return not_found(ctx);
  const char *p[] = {id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "DELETE FROM schedules WHERE schedule_id = $1 RETURNING 1", 1, p);
  if (!rpc_ok(st)) return st;
  return PQntuples(r) ? RPC_OK : not_found(ctx);
}

rpc_status rp_schedule_list(rpc_ctx *ctx, int32_t page_size, const char *page_token,
                            Metro__Report__V1__ListReportSchedulesResponse **out) {
  page_cursor cur;
  rpc_status st = page_cursor_parse(ctx, "rsch", page_size, page_token, 20, 100, &cur);
  if (!rpc_ok(st)) return st;
  const char *p[] = {cur.after_us, cur.after_id, arena_printf(ctx->arena, "%d", cur.page_size + 1)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "SELECT " SCHEDULE_COLUMNS " FROM schedules "
               "WHERE $1::bigint IS NULL OR (created_at, schedule_id) > (" SQL_AT("$1") ", $2::uuid) "
               "ORDER BY created_at, schedule_id LIMIT $3",
               3, p);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r), shown = n > cur.page_size ? cur.page_size : n;
  Metro__Report__V1__ListReportSchedulesResponse *resp = RPC_NEW(
      ctx, Metro__Report__V1__ListReportSchedulesResponse, metro__report__v1__list_report_schedules_response__init);
  resp->schedules = arena_alloc(ctx->arena, (size_t)(shown ? shown : 1) * sizeof *resp->schedules);
  for (int i = 0; i < shown; i++) resp->schedules[resp->n_schedules++] = schedule_row(ctx, r, i);
  if (n > shown)
    resp->next_page_token = (char *)page_token_make(ctx, "rsch", strtoll(pg_value(r, shown - 1, 9), NULL, 10),
                                                    pg_value(r, shown - 1, 0));
  *out = resp;
  return RPC_OK;
}

/* ---- running due schedules ---- */

typedef enum { RUN_SENT, RUN_TAKEN } run_outcome;

/* The event that asks the notification service to email a completed scheduled report. */
static rpc_status publish_delivery(rpc_ctx *ctx, const Metro__Report__V1__ReportSchedule *s,
                                   const Metro__Report__V1__ReportTemplate *t, const Metro__Report__V1__Report *rep,
                                   const Metro__Report__V1__Analytics *an, const rp_period *period) {
  size_t n_items, csv_len, svg_len;
  Metro__Report__V1__ReportItem **items = rp_analytics_items(ctx, an, t->sections, t->n_sections, &n_items);
  char *csv = rp_csv(ctx->arena, items, n_items, &csv_len);
  const char *chart = t->chart && *t->chart ? t->chart : "revenue-by-day";
  char *svg = rp_chart_render(ctx->arena, chart, an, &svg_len);
  if (!csv || !svg || csv_len > RP_MAX_CSV_BYTES || svg_len > RP_MAX_SVG_BYTES)
    return rpc_error(ctx->arena, GRPC_STATUS_RESOURCE_EXHAUSTED, "REPORT_TOO_LARGE",
                     "report %s: its CSV (%zu bytes) or chart (%zu bytes) is too large to email", rep->report_id,
                     csv_len, svg_len);
  Metro__Events__V1__ReportDeliveryRequested ev = METRO__EVENTS__V1__REPORT_DELIVERY_REQUESTED__INIT;
  ev.report_id = rep->report_id;
  ev.schedule_id = s->schedule_id;
  ev.template_id = t->template_id;
  ev.template_name = t->display_name;
  ev.frequency = s->frequency;
  ev.start_date = rep->start_date;
  ev.end_date = rep->end_date;
  ev.recipients = s->recipients;
  ev.n_recipients = s->n_recipients;
  ev.csv = (ProtobufCBinaryData){csv_len, (uint8_t *)csv};
  ev.csv_filename = arena_printf(ctx->arena, "metro-report-%s.csv", rp_period_label(ctx->arena, period));
  ev.chart_svg = (ProtobufCBinaryData){svg_len, (uint8_t *)svg};
  ev.chart_name = (char *)chart;
  ev.revenue_vnd = an->totals->revenue_vnd;
  ev.taps = an->totals->taps;
  ev.tickets_created = an->totals->tickets_created;
  ev.complete_time = pb_timestamp(ctx, clock_real_ms() * 1000);
  return ev_publish(ctx->arena, "report.delivery_requested", s->schedule_id, &ev.base, ctx->traceparent);
}

/* One due schedule in one transaction: lock it (skipping one another replica holds), claim its
 * period, generate the report, queue the email, move next_run_at on. */
static rpc_status run_one(rpc_ctx *ctx, const char *schedule_id, run_outcome *outcome, const char **report_id) {
  *outcome = RUN_TAKEN;
  const char *p[] = {schedule_id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "SELECT " SCHEDULE_COLUMNS " FROM schedules WHERE schedule_id = $1 AND NOT paused "
                          "AND next_run_at <= clock_timestamp() FOR UPDATE SKIP LOCKED",
                          1, p);
  if (!rpc_ok(st) || PQntuples(r) == 0) return st;
  Metro__Report__V1__ReportSchedule *s = schedule_row(ctx, r, 0);
  rp_period_kind kind;
  rp_period_kind_parse(s->frequency, false, &kind);
  int64_t due = pb_timestamp_us(s->next_run_time) / 1000000;
  rp_period period = rp_period_previous(kind, due);
  int64_t next = rp_next_run(kind, rp_run_at_parse(s->run_at), now_s());
  char first[11];
  rp_date_format(period.first_day, first);
  const char *cp[] = {schedule_id, first};
  if (!rpc_ok(st = pg_exec(ctx->arena, &r,
                           "INSERT INTO schedule_runs (schedule_id, first_day) VALUES ($1, $2) "
                           "ON CONFLICT DO NOTHING RETURNING report_id",
                           2, cp)))
    return st;
  const char *claimed = PQntuples(r) ? arena_strdup(ctx->arena, pg_value(r, 0, 0)) : NULL;
  if (claimed) {
    Metro__Report__V1__ReportTemplate *t;
    if (!rpc_ok(st = rp_template_get(ctx, s->template_id, &t))) return st;
    rp_report_new n = {.report_id = claimed, .period = period, .sections = t->sections, .n_sections = t->n_sections,
                       .template_id = t->template_id, .schedule_id = schedule_id, .requested_by = "schedule",
                       .status = "processing"};
    Metro__Report__V1__Report *rep;
    Metro__Report__V1__Analytics *an;
    if (!rpc_ok(st = rp_report_insert(ctx, &n, &rep)) || !rpc_ok(st = rp_report_complete(ctx, rep, &an)) ||
        !rpc_ok(st = publish_delivery(ctx, s, t, rep, an, &period)))
      return st;
    *outcome = RUN_SENT;
    *report_id = claimed;
  }
  const char *up[] = {schedule_id, arena_printf(ctx->arena, "%lld", (long long)next * 1000000), claimed};
  st = pg_exec(ctx->arena, NULL,
               "UPDATE schedules SET next_run_at = " SQL_AT("$2") ", last_run_at = CASE WHEN $3::uuid IS NULL "
               "THEN last_run_at ELSE now() END, last_report_id = coalesce($3::uuid, last_report_id) "
               "WHERE schedule_id = $1",
               3, up);
  return st;
}

rpc_status rp_run_due_schedules(rpc_ctx *ctx, int max, Metro__Report__V1__RunDueSchedulesResponse *out) {
  const char *p[] = {arena_printf(ctx->arena, "%d", max)};
  PGresult *due;
  rpc_status st = pg_exec(ctx->arena, &due,
                          "SELECT schedule_id FROM schedules WHERE NOT paused AND next_run_at <= clock_timestamp() "
                          "ORDER BY next_run_at LIMIT $1",
                          1, p);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(due);
  out->report_ids = arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof *out->report_ids);
  for (int i = 0; i < n; i++) {
    const char *id = pg_value(due, i, 0), *report_id = NULL;
    run_outcome outcome;
    if (!rpc_ok(st = pg_begin(ctx->arena))) return st;
    st = run_one(ctx, id, &outcome, &report_id);
    if (rpc_ok(st)) st = pg_commit(ctx->arena);
    if (!rpc_ok(st)) {
      pg_rollback();
      log_warn("report schedule %s: %s (retried on the next run)", id, st.message ? st.message : "failed");
      out->failed++;
    } else if (outcome == RUN_SENT) {
      log_info("report schedule %s: report %s generated and queued for email", id, report_id);
      out->schedules_run++;
      out->report_ids[out->n_report_ids++] = (char *)report_id;
    } else {
      out->already_claimed++;
    }
  }
  return RPC_OK;
}
