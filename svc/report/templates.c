/* Report templates (domain spec §15): which sections a scheduled report holds and which chart its
 * email shows; validated field by field, stored in the templates table, listed by AIP paging. */
#include <stdlib.h>
#include <string.h>

#include "common/field_mask.h"
#include "common/page_token.h"
#include "common/pb_time.h"
#include "common/text.h"
#include "svc/report/report.h"

#define TEMPLATE_COLUMNS \
  "template_id, display_name, description, array_to_string(sections, E'\\n'), chart, " SQL_US("created_at") ", " SQL_US("updated_at")

enum { F_DISPLAY_NAME = 1, F_DESCRIPTION = 2, F_SECTIONS = 4, F_CHART = 8 };

static const fm_path template_paths[] = {
    {"display_name", F_DISPLAY_NAME}, {"description", F_DESCRIPTION}, {"sections", F_SECTIONS},
    {"chart", F_CHART},               {"template_id", 0},             {"create_time", 0},
    {"update_time", 0},               {NULL, 0},
};

bool rp_template_id_valid(const char *id) {
  size_t n = id ? strlen(id) : 0;
  if (n < 3 || n > 63 || !(id[0] >= 'a' && id[0] <= 'z')) return false;
  return text_only_chars(id, "abcdefghijklmnopqrstuvwxyz0123456789-");
}

static Metro__Report__V1__ReportTemplate *template_row(rpc_ctx *ctx, const PGresult *r, int i) {
  Metro__Report__V1__ReportTemplate *t =
      RPC_NEW(ctx, Metro__Report__V1__ReportTemplate, metro__report__v1__report_template__init);
  t->template_id = arena_strdup(ctx->arena, pg_value(r, i, 0));
  t->display_name = arena_strdup(ctx->arena, pg_value(r, i, 1));
  t->description = arena_strdup(ctx->arena, pg_value(r, i, 2));
  t->sections = rp_lines_split(ctx->arena, pg_value(r, i, 3), &t->n_sections);
  t->chart = arena_strdup(ctx->arena, pg_value(r, i, 4));
  t->create_time = pb_timestamp(ctx, strtoll(pg_value(r, i, 5), NULL, 10));
  t->update_time = pb_timestamp(ctx, strtoll(pg_value(r, i, 6), NULL, 10));
  return t;
}

/* The fields of t named by bits, each checked; INVALID_ARGUMENT naming the first bad one. */
static rpc_status validate(rpc_ctx *ctx, const Metro__Report__V1__ReportTemplate *t, unsigned bits) {
  if (bits & F_DISPLAY_NAME) {
    long n = t->display_name ? text_utf8_length(t->display_name) : 0;
    if (n < 1 || n > 100 || text_has_control(t->display_name))
      return rpc_invalid(ctx->arena, "template.displayName", "INVALID_DISPLAY_NAME",
                         "displayName must be 1-100 characters without control characters");
  }
  if (bits & F_DESCRIPTION) {
    long n = t->description ? text_utf8_length(t->description) : 0;
    if (n < 0 || n > 500)
      return rpc_invalid(ctx->arena, "template.description", "INVALID_DESCRIPTION",
                         "description must be at most 500 characters of UTF-8");
  }
  if (bits & F_SECTIONS) {
    if (t->n_sections > 16)
      return rpc_invalid(ctx->arena, "template.sections", "INVALID_SECTIONS", "at most 16 sections");
    for (size_t i = 0; i < t->n_sections; i++) {
      if (!rp_section_known(t->sections[i]))
        return rpc_invalid(ctx->arena, "template.sections", "UNKNOWN_SECTION",
                           "sections[%zu] is not a report section (totals, series, revenue_by_day, "
                           "revenue_by_ticket_type, revenue_by_payment_method, revenue_by_line, top_stations, "
                           "top_lines, fare_adjustments)",
                           i);
      for (size_t k = 0; k < i; k++)
        if (strcmp(t->sections[k], t->sections[i]) == 0)
          return rpc_invalid(ctx->arena, "template.sections", "DUPLICATE_SECTION", "sections[%zu] is given twice", i);
    }
  }
  if ((bits & F_CHART) && t->chart && *t->chart && !rp_chart_known(t->chart))
    return rpc_invalid(ctx->arena, "template.chart", "UNKNOWN_CHART",
                       "chart must be revenue-by-day, taps-by-station, journeys-by-line or activity");
  return RPC_OK;
}

static rpc_status not_found(rpc_ctx *ctx, const char *id) {
  return rpc_error(ctx->arena, GRPC_STATUS_NOT_FOUND, "TEMPLATE_NOT_FOUND", "no report template \"%s\"",
                   rp_template_id_valid(id) ? id : "(invalid id)");
}

rpc_status rp_template_get(rpc_ctx *ctx, const char *id, Metro__Report__V1__ReportTemplate **out) {
  *out = NULL;
  if (!rp_template_id_valid(id)) return not_found(ctx, id);
  const char *p[] = {id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r, "SELECT " TEMPLATE_COLUMNS " FROM templates WHERE template_id = $1", 1, p);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) return not_found(ctx, id);
  *out = template_row(ctx, r, 0);
  return RPC_OK;
}

rpc_status rp_template_create(rpc_ctx *ctx, const Metro__Report__V1__ReportTemplate *t,
                              Metro__Report__V1__ReportTemplate **out) {
  if (!t) return rpc_invalid(ctx->arena, "template", "MISSING_TEMPLATE", "template is required");
  if (!rp_template_id_valid(t->template_id))
    return rpc_invalid(ctx->arena, "template.templateId", "INVALID_TEMPLATE_ID",
                       "templateId must be 3-63 of a-z, 0-9 and '-', starting with a letter");
  rpc_status st = validate(ctx, t, F_DISPLAY_NAME | F_DESCRIPTION | F_SECTIONS | F_CHART);
  if (!rpc_ok(st)) return st;
  const char *p[] = {t->template_id, t->display_name, t->description ? t->description : "",
                     rp_lines_join(ctx->arena, t->sections, t->n_sections),
                     t->chart && *t->chart ? t->chart : "revenue-by-day"};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "INSERT INTO templates (template_id, display_name, description, sections, chart) "
               "VALUES ($1, $2, $3, string_to_array($4, E'\\n'), $5) ON CONFLICT (template_id) DO NOTHING RETURNING " TEMPLATE_COLUMNS,
               5, p);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0)
    return rpc_error(ctx->arena, GRPC_STATUS_ALREADY_EXISTS, "TEMPLATE_EXISTS", "a template \"%s\" exists already",
                     t->template_id);
  *out = template_row(ctx, r, 0);
  return RPC_OK;
}

rpc_status rp_template_update(rpc_ctx *ctx, const Metro__Report__V1__ReportTemplate *t,
                              const Google__Protobuf__FieldMask *mask, Metro__Report__V1__ReportTemplate **out) {
  if (!t) return rpc_invalid(ctx->arena, "template", "MISSING_TEMPLATE", "template is required");
  unsigned bits;
  rpc_status st = fm_mask_bits(ctx->arena, mask, template_paths, false, "UNKNOWN_FIELD", &bits);
  if (!rpc_ok(st)) return st;
  if (!mask || mask->n_paths == 0) bits = F_DISPLAY_NAME | F_DESCRIPTION | F_SECTIONS | F_CHART;
  Metro__Report__V1__ReportTemplate *cur;
  if (!rpc_ok(st = rp_template_get(ctx, t->template_id, &cur))) return st;
  if (!rpc_ok(st = validate(ctx, t, bits))) return st;
  const char *p[] = {t->template_id, (bits & F_DISPLAY_NAME) ? t->display_name : cur->display_name,
                     (bits & F_DESCRIPTION) ? (t->description ? t->description : "") : cur->description,
                     (bits & F_SECTIONS) ? rp_lines_join(ctx->arena, t->sections, t->n_sections)
                                         : rp_lines_join(ctx->arena, cur->sections, cur->n_sections),
                     (bits & F_CHART) ? (t->chart && *t->chart ? t->chart : "revenue-by-day") : cur->chart};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "UPDATE templates SET display_name = $2, description = $3, sections = string_to_array($4, E'\\n'), chart = $5, "
               "updated_at = now() WHERE template_id = $1 RETURNING " TEMPLATE_COLUMNS,
               5, p);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 0) return not_found(ctx, t->template_id);
  *out = template_row(ctx, r, 0);
  return RPC_OK;
}

rpc_status rp_template_delete(rpc_ctx *ctx, const char *id) {
  if (!rp_template_id_valid(id)) return not_found(ctx, id);
  const char *p[] = {id};
  PGresult *r;
  rpc_status st = pg_exec(ctx->arena, &r,
                          "DELETE FROM templates WHERE template_id = $1 "
                          "AND NOT EXISTS (SELECT 1 FROM schedules WHERE template_id = $1) RETURNING 1",
                          1, p);
  if (!rpc_ok(st)) return st;
  if (PQntuples(r) == 1) return RPC_OK;
  Metro__Report__V1__ReportTemplate *t;
  if (!rpc_ok(st = rp_template_get(ctx, id, &t))) return st;
  return rpc_error(ctx->arena, GRPC_STATUS_FAILED_PRECONDITION, "TEMPLATE_IN_USE",
                   "template \"%s\" is used by a schedule; delete or change the schedule first", id);
}

rpc_status rp_template_list(rpc_ctx *ctx, int32_t page_size, const char *page_token,
                            Metro__Report__V1__ListReportTemplatesResponse **out) {
  page_cursor cur;
  rpc_status st = page_cursor_parse_ids(ctx, "tpl", page_size, page_token, 20, 100, rp_template_id_valid, &cur);
  if (!rpc_ok(st)) return st;
  const char *p[] = {cur.after_us, cur.after_id, arena_printf(ctx->arena, "%d", cur.page_size + 1)};
  PGresult *r;
  st = pg_exec(ctx->arena, &r,
               "SELECT " TEMPLATE_COLUMNS " FROM templates "
               "WHERE $1::bigint IS NULL OR (created_at, template_id) > (" SQL_AT("$1") ", $2) "
               "ORDER BY created_at, template_id LIMIT $3",
               3, p);
  if (!rpc_ok(st)) return st;
  int n = PQntuples(r), shown = n > cur.page_size ? cur.page_size : n;
  Metro__Report__V1__ListReportTemplatesResponse *resp = RPC_NEW(
      ctx, Metro__Report__V1__ListReportTemplatesResponse, metro__report__v1__list_report_templates_response__init);
  resp->templates = arena_alloc(ctx->arena, (size_t)(shown ? shown : 1) * sizeof *resp->templates);
  for (int i = 0; i < shown; i++) resp->templates[resp->n_templates++] = template_row(ctx, r, i);
  if (n > shown)
    resp->next_page_token = (char *)page_token_make(ctx, "tpl", strtoll(pg_value(r, shown - 1, 5), NULL, 10),
                                                    pg_value(r, shown - 1, 0));
  *out = resp;
  return RPC_OK;
}
