/* report.delivery_requested (issue 13): a finished scheduled report is emailed to each of its
 * recipients, plain addresses with no account, the CSV attached and the chart inline; one email
 * per (event, recipient), so a redelivered event queues nothing new. */
#include <string.h>

#include "common/log.h"
#include "metro/events/v1/report_events.pb-c.h"
#include "svc/notification/service.h"

#define REPORT_TEMPLATE "report_delivery"
#define CHART_CID "chart"
#define MAX_RECIPIENTS 20
#define MAX_CSV_BYTES (512 * 1024)
#define MAX_SVG_BYTES (256 * 1024)
#define RECIPIENT_ARENA (64 * 1024)

typedef struct frequency_name {
  const char *frequency, *display;
} frequency_name;

static const frequency_name FREQUENCIES[] = {
    {"daily", "hằng ngày"},
    {"weekly", "hằng tuần"},
    {"monthly", "hằng tháng"},
};

static const char *frequency_display(const char *frequency) {
  for (size_t i = 0; i < sizeof FREQUENCIES / sizeof FREQUENCIES[0]; i++)
    if (strcmp(frequency, FREQUENCIES[i].frequency) == 0) return FREQUENCIES[i].display;
  return frequency;
}

/* "2026-12-02" -> "02/12/2026", as the other emails write dates; anything else as it is. */
static const char *date_display(arena *a, const char *ymd) {
  static const char SHAPE[] = "dddd-dd-dd";
  if (strlen(ymd) != sizeof SHAPE - 1) return ymd;
  for (size_t i = 0; SHAPE[i]; i++)
    if (SHAPE[i] == 'd' ? ymd[i] < '0' || ymd[i] > '9' : ymd[i] != SHAPE[i]) return ymd;
  return arena_printf(a, "%.2s/%.2s/%.4s", ymd + 8, ymd + 5, ymd);
}

/* A count grouped as amounts are ("12.345"): nt_format_vnd without its " ₫". */
static const char *count_display(arena *a, int64_t n) {
  char *s = nt_format_vnd(a, n);
  char *space = strrchr(s, ' ');
  if (space) *space = '\0';
  return s;
}

/* st with its strings in a, for when the arena they were made in is about to go. */
static rpc_status status_in(arena *a, rpc_status st) {
  if (st.message) st.message = arena_strdup(a, st.message);
  if (st.reason) st.reason = arena_strdup(a, st.reason);
  if (st.field) st.field = arena_strdup(a, st.field);
  return st;
}

/* Queues the message to one address on an arena of its own: each message holds the CSV and the
 * chart in base64 (about 1 MB at most, several times over while it is built), which twenty
 * recipients must not pile up in the event's arena. */
static rpc_status queue_to(rpc_ctx *ctx, nt_message m, const char *addr) {
  Metro__User__V1__Contact to = METRO__USER__V1__CONTACT__INIT;
  to.email = (char *)addr;
  m.to = &to;
  rpc_ctx one = *ctx;
  one.arena = arena_create(RECIPIENT_ARENA);
  one.alloc = arena_protobuf_allocator(one.arena);
  rpc_status st = status_in(ctx->arena, nt_queue_email(&one, &m));
  arena_destroy(one.arena);
  return st;
}

rpc_status nt_on_report_delivery_requested(rpc_ctx *ctx, const ev_event *ev) {
  const Metro__Events__V1__ReportDeliveryRequested *r = (const void *)ev->data;
  if (r->n_recipients > MAX_RECIPIENTS)
    return rpc_invalid(ctx->arena, "recipients", "INVALID_EVENT", "report %s: %zu recipients, at most %d",
                       r->report_id, r->n_recipients, MAX_RECIPIENTS);
  if (r->csv.len > MAX_CSV_BYTES)
    return rpc_invalid(ctx->arena, "csv", "INVALID_EVENT", "report %s: a CSV of %zu bytes, at most %d", r->report_id,
                       r->csv.len, MAX_CSV_BYTES);
  if (r->chart_svg.len > MAX_SVG_BYTES)
    return rpc_invalid(ctx->arena, "chartSvg", "INVALID_EVENT", "report %s: a chart of %zu bytes, at most %d",
                       r->report_id, r->chart_svg.len, MAX_SVG_BYTES);
  if (r->csv.len == 0) {
    log_warn("report %s: delivery requested without a CSV; nothing sent", r->report_id);
    return RPC_OK;
  }
  if (r->chart_svg.len == 0) log_warn("report %s: no chart; the email goes without it", r->report_id);

  const nt_part parts[] = {
      {.kind = NT_PART_ATTACHMENT, .content_type = "text/csv", .charset = "utf-8",
       .filename = *r->csv_filename ? r->csv_filename : "metro-report.csv", .data = r->csv.data, .len = r->csv.len},
      {.kind = NT_PART_INLINE, .content_type = "image/svg+xml", .content_id = CHART_CID,
       .filename = arena_printf(ctx->arena, "%s.svg", *r->chart_name ? r->chart_name : "chart"),
       .data = r->chart_svg.data, .len = r->chart_svg.len},
  };
  const nt_var vars[] = {
      {"template_name", r->template_name},
      {"frequency", frequency_display(r->frequency)},
      {"start_date", date_display(ctx->arena, r->start_date)},
      {"end_date", date_display(ctx->arena, r->end_date)},
      {"revenue", nt_format_vnd(ctx->arena, r->revenue_vnd)},
      {"taps", count_display(ctx->arena, r->taps)},
      {"tickets_created", count_display(ctx->arena, r->tickets_created)},
      {"chart_cid", CHART_CID},
  };
  nt_message m = {.ev = ev, .template_name = REPORT_TEMPLATE, .vars = vars, .n_vars = sizeof vars / sizeof vars[0],
                  .parts = parts, .n_parts = r->chart_svg.len ? 2 : 1};
  size_t queued = 0;
  for (size_t i = 0; i < r->n_recipients; i++) {
    if (!nt_address_valid(r->recipients[i])) {
      log_warn("report %s: recipient \"%.100s\" is not an email address; skipped", r->report_id, r->recipients[i]);
      continue;
    }
    rpc_status st = queue_to(ctx, m, r->recipients[i]);
    if (!rpc_ok(st)) return st;
    queued++;
  }
  if (!queued) log_warn("report %s: no valid recipient; nothing sent", r->report_id);
  return RPC_OK;
}
