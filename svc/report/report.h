/* The report service's shared declarations: periods in Asia/Ho_Chi_Minh, CSV and SVG rendering
 * (pure), the read model fed by events, analytics in SQL, report records, templates and schedules. */
#ifndef METRO_REPORT_H
#define METRO_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/events.h"
#include "common/pg.h"
#include "common/rpc_server.h"
#include "metro/report/v1/report.pb-c.h"

/* ==== period.c: local days, ISO weeks and months in Asia/Ho_Chi_Minh (pure) ==== */

#define RP_TZ_OFFSET_S 25200   /* UTC+7, no daylight saving */
#define RP_MIN_YEAR 2000
#define RP_MAX_YEAR 2199
#define RP_MAX_CUSTOM_DAYS 366

typedef enum rp_period_kind { RP_DAILY, RP_WEEKLY, RP_MONTHLY, RP_CUSTOM } rp_period_kind;

typedef struct rp_period {
  rp_period_kind kind;
  int32_t first_day, last_day; /* local days since 1970-01-01, both inclusive */
  int64_t start_unix;          /* UTC seconds of local midnight starting first_day */
  int64_t end_unix;            /* UTC seconds of local midnight after last_day (exclusive) */
} rp_period;

/* "YYYY-MM-DD", exactly 10 characters, a real calendar date between RP_MIN_YEAR and RP_MAX_YEAR
 * (leap years by the Gregorian rule) -> days since 1970-01-01. False for anything else. */
bool rp_date_parse(const char *s, int32_t *day);
/* Days since 1970-01-01 -> "YYYY-MM-DD" (out has room for 11 bytes). */
void rp_date_format(int32_t day, char out[11]);
/* The local day holding a UTC instant (floor division: instants before 1970 work too). */
int32_t rp_local_day(int64_t unix_s);
/* 1 = Monday ... 7 = Sunday. */
int rp_weekday(int32_t day);
/* The ISO 8601 week of a day: *iso_year may differ from the calendar year around New Year;
 * week 1-53. */
void rp_iso_week(int32_t day, int *iso_year, int *week);

/* "daily" | "weekly" | "monthly" (and "custom" when allow_custom) -> kind. */
bool rp_period_kind_parse(const char *s, bool allow_custom, rp_period_kind *kind);
const char *rp_period_kind_name(rp_period_kind kind);
/* The daily/weekly (ISO, Monday first)/monthly period holding the local day. */
rp_period rp_period_containing(rp_period_kind kind, int32_t day);
/* A custom period of whole local days; false when last < first or it spans more than max_days. */
bool rp_period_custom(int32_t first_day, int32_t last_day, int32_t max_days, rp_period *out);
/* The last complete period of that kind before the one holding the instant (yesterday, last
 * week, last month). */
rp_period rp_period_previous(rp_period_kind kind, int64_t now_unix);
/* True when the period holds the instant (start <= now < end). */
bool rp_period_holds(const rp_period *p, int64_t unix_s);
/* A label for titles and file names: "2026-12-02", "2026-W49", "2026-11", "2026-11-01..2026-11-30". */
char *rp_period_label(arena *a, const rp_period *p);

/* "HH:MM" (00:00-23:59, exactly five characters) -> minutes after local midnight; -1 otherwise. */
int rp_run_at_parse(const char *s);
/* A schedule's next run strictly after `after_unix`: run_at_minutes past local midnight of the
 * first day of a period of that kind (every day; Mondays; the 1st of a month). */
int64_t rp_next_run(rp_period_kind frequency, int run_at_minutes, int64_t after_unix);

/* ==== csv.c: report items as RFC 4180 CSV (pure) ==== */

/* The header "section,metric,dimension,dimension_name,value" then one record per item; CRLF
 * line ends; a field holding ',', '"', CR or LF is quoted with '"' doubled; text is UTF-8 as
 * given, bytes that are not UTF-8 become U+FFFD. A text field starting with '=', '+', '-', '@',
 * TAB or CR gets a leading "'" so spreadsheets never run it as a formula (values are numbers and
 * are written as is). The result is NUL-terminated; *len excludes the NUL. */
char *rp_csv(arena *a, Metro__Report__V1__ReportItem *const *items, size_t n, size_t *len);

/* ==== svg.c: charts as standalone SVG 1.1 (pure) ==== */

typedef struct rp_point {
  const char *label;  /* x-axis label (UTF-8), e.g. "2026-12-02" or a station name */
  int64_t value;      /* may be negative (a day of refunds) */
} rp_point;

#define RP_SVG_MAX_POINTS 400

/* A line chart (points in order, joined) or a bar chart (one bar a point): a well-formed XML
 * document with the SVG namespace, width/height/viewBox, a <title>, both axes with ticks and
 * round-number value labels, the y axis spanning min(0, min value) to max(0, max value), x
 * labels (thinned when many, long ones cut with an ellipsis, bars' labels rotated), the axis
 * caption y_label, and "No data" when n is 0. Every text is XML-escaped (& < > " ' and control
 * characters dropped); no script, event attribute, external reference or style sheet. Points
 * beyond RP_SVG_MAX_POINTS are ignored. NUL-terminated; *len excludes the NUL. */
char *rp_svg_line_chart(arena *a, const char *title, const char *y_label, const rp_point *pts, size_t n,
                        size_t *len);
char *rp_svg_bar_chart(arena *a, const char *title, const char *y_label, const rp_point *pts, size_t n,
                       size_t *len);

/* ==== settings and state ==== */

typedef struct rp_settings {
  char *transport_addr;          /* METRO_TRANSPORT_GRPC: station and line names */
  int64_t worker_poll_ms;        /* METRO_REPORT_WORKER_POLL_MS: how often pending reports are looked for */
  int64_t call_timeout_ms;       /* METRO_REPORT_CALL_TIMEOUT_MS */
} rp_settings;

typedef struct rp_state {
  rp_settings settings;
} rp_state;

static inline const rp_state *rp_st(const rpc_ctx *ctx) { return (const rp_state *)ctx->state; }

/* ==== ingest.c: the read model's consumers (idempotent by event id) ==== */

extern const ev_subscription rp_subscriptions[];
extern const size_t rp_n_subscriptions;

/* ==== names.c: station and line display names from transport ==== */

typedef struct rp_names rp_names;
/* Every station's and line's name, read from transport for one call (in the arena); empty when
 * transport does not answer, and then the names below are the ids. */
rp_names *rp_names_load(rpc_ctx *ctx);
const char *rp_station_name(const rp_names *n, const char *station_id);
const char *rp_line_name(const rp_names *n, const char *route_id);

/* ==== analytics.c: the figures of a period, in SQL ==== */

/* Builds the analytics of a period (now_unix decides partial); series hourly for a single day,
 * daily otherwise. Run it inside a transaction (REPEATABLE READ for one consistent snapshot). */
rpc_status rp_analytics(rpc_ctx *ctx, const rp_period *p, int64_t now_unix, Metro__Report__V1__Analytics **out);
/* The analytics flattened into report items (section, metric, dimension, value), only the
 * sections listed (n_sections 0 = all). */
Metro__Report__V1__ReportItem **rp_analytics_items(rpc_ctx *ctx, const Metro__Report__V1__Analytics *an,
                                                  char *const *sections, size_t n_sections, size_t *n_items);
/* The known section names (for template validation). */
bool rp_section_known(const char *section);

/* ==== charts.c: a report's charts from its analytics ==== */

/* The chart names, in order: revenue-by-day, taps-by-station, journeys-by-line, activity. */
size_t rp_chart_count(void);
const char *rp_chart_name(size_t i);
bool rp_chart_known(const char *name);
/* Renders the named chart from a report's analytics; NULL when the name is unknown. */
char *rp_chart_render(arena *a, const char *name, const Metro__Report__V1__Analytics *an, size_t *len);

/* ==== lines.c: text arrays to and from SQL as newline-joined text ==== */

char *rp_lines_join(arena *a, char *const *v, size_t n);
char **rp_lines_split(arena *a, const char *s, size_t *n);

/* ==== reports.c: records, the background worker ==== */

typedef struct rp_report_new {
  const char *report_id;        /* NULL: a new UUID */
  rp_period period;
  char *const *sections;        /* only these sections (n_sections 0: all) */
  size_t n_sections;
  const char *template_id, *schedule_id, *requested_by, *request_id; /* NULL or "" when none */
  const char *status;           /* "pending" (the worker takes it) or "processing" (the caller completes it) */
} rp_report_new;

rpc_status rp_report_insert(rpc_ctx *ctx, const rp_report_new *n, Metro__Report__V1__Report **out);
/* The report created with that request id, or *out NULL. */
rpc_status rp_report_find_request(rpc_ctx *ctx, const char *request_id, Metro__Report__V1__Report **out);
/* *out NULL when there is no such report. with_items fills items from the stored analytics;
 * analytics (may be NULL) gets them unpacked when the report is completed. */
rpc_status rp_report_get(rpc_ctx *ctx, const char *report_id, bool with_items, Metro__Report__V1__Report **out,
                         Metro__Report__V1__Analytics **analytics);
/* Newest first after the cursor (after_us NULL: from the start), filtered by type and status. */
rpc_status rp_report_list(rpc_ctx *ctx, const char *type, const char *status, const char *after_us,
                          const char *after_id, int limit, Metro__Report__V1__Report ***out, int *n);
/* Computes a processing report's analytics and stores it completed (inside the caller's
 * transaction); *out (may be NULL) gets the analytics. */
rpc_status rp_report_complete(rpc_ctx *ctx, const Metro__Report__V1__Report *m, Metro__Report__V1__Analytics **out);
bool rp_worker_start(rp_state *st);
void rp_worker_stop(void);

/* ==== templates.c ==== */

bool rp_template_id_valid(const char *id);
/* NOT_FOUND TEMPLATE_NOT_FOUND when there is none. */
rpc_status rp_template_get(rpc_ctx *ctx, const char *id, Metro__Report__V1__ReportTemplate **out);
rpc_status rp_template_create(rpc_ctx *ctx, const Metro__Report__V1__ReportTemplate *t,
                              Metro__Report__V1__ReportTemplate **out);
rpc_status rp_template_update(rpc_ctx *ctx, const Metro__Report__V1__ReportTemplate *t,
                              const Google__Protobuf__FieldMask *mask, Metro__Report__V1__ReportTemplate **out);
rpc_status rp_template_delete(rpc_ctx *ctx, const char *id);
rpc_status rp_template_list(rpc_ctx *ctx, int32_t page_size, const char *page_token,
                            Metro__Report__V1__ListReportTemplatesResponse **out);

/* ==== schedules.c ==== */

rpc_status rp_schedule_get(rpc_ctx *ctx, const char *id, Metro__Report__V1__ReportSchedule **out);
rpc_status rp_schedule_create(rpc_ctx *ctx, const Metro__Report__V1__ReportSchedule *s,
                              Metro__Report__V1__ReportSchedule **out);
rpc_status rp_schedule_update(rpc_ctx *ctx, const Metro__Report__V1__ReportSchedule *s,
                              const Google__Protobuf__FieldMask *mask, Metro__Report__V1__ReportSchedule **out);
rpc_status rp_schedule_delete(rpc_ctx *ctx, const char *id);
rpc_status rp_schedule_list(rpc_ctx *ctx, int32_t page_size, const char *page_token,
                            Metro__Report__V1__ListReportSchedulesResponse **out);
/* Runs up to max due schedules, each in its own transaction. */
rpc_status rp_run_due_schedules(rpc_ctx *ctx, int max, Metro__Report__V1__RunDueSchedulesResponse *out);

/* ==== handlers.c ==== */

extern const rpc_service_impl report_service_impl;

#endif
