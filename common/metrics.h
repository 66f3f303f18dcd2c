/* Prometheus metrics: counter, gauge and histogram families with up to four bounded
 * labels, rendered in the text exposition format, and the small HTTP endpoint every
 * process serves on its admin port (/metrics, /healthz, /readyz). */
#ifndef METRO_METRICS_H
#define METRO_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct metric_family metric_family;
typedef struct metric_series metric_series;

/* Families are registered once at start-up (or lazily: registration takes a lock). A family
 * has up to METRICS_MAX_LABELS label names. Series are created on first use, at most
 * METRICS_MAX_SERIES per family; later label values are folded into the series whose every
 * label is "other", so a scrape stays bounded whatever callers pass. Label values are kept
 * to their first 128 bytes (cut at a UTF-8 character boundary); NULL reads as "". */
#define METRICS_MAX_SERIES 512
#define METRICS_MAX_LABELS 4
metric_family *metrics_counter_v(const char *name, const char *help, const char *const *labels, int n_labels);
metric_family *metrics_gauge_v(const char *name, const char *help, const char *const *labels, int n_labels);
/* Latency histogram in seconds with default buckets from 0.5 ms to 10 s. */
metric_family *metrics_histogram_v(const char *name, const char *help, const char *const *labels, int n_labels);

/* values: one per label of the family, in its order (NULL when the family has none). */
void metrics_add_v(metric_family *f, const char *const *values, double by);      /* counters, gauges */
void metrics_set_v(metric_family *f, const char *const *values, double value);   /* gauges */
void metrics_observe_v(metric_family *f, const char *const *values, double value); /* histograms */

/* A series resolved once, for hot paths: no hashing or string work per update. It lives as
 * long as the process (NULL from a NULL family; updates of a NULL series do nothing). */
metric_series *metrics_series(metric_family *f, const char *const *values);
void metrics_series_add(metric_series *s, double by);
void metrics_series_set(metric_series *s, double value);
void metrics_series_observe(metric_series *s, double value);

/* The same with at most two labels; label names and values may be NULL when unused. */
metric_family *metrics_counter(const char *name, const char *help, const char *label1, const char *label2);
metric_family *metrics_gauge(const char *name, const char *help, const char *label1, const char *label2);
metric_family *metrics_histogram(const char *name, const char *help, const char *label1, const char *label2);
void metrics_add(metric_family *f, const char *v1, const char *v2, double by);
void metrics_set(metric_family *f, const char *v1, const char *v2, double value);
void metrics_observe(metric_family *f, const char *v1, const char *v2, double value);

/* The exposition text; the caller frees it. */
char *metrics_render(void);

/* What an admin port answers (the same from metrics_serve and the gateway's own server). */
typedef struct metrics_admin_answer {
  int status;
  const char *content_type;
  char *body;       /* NUL-terminated */
  bool owned;       /* the caller frees body */
} metrics_admin_answer;

/* A request the admin port refuses before reading it: 405 for anything but GET, 400 for a GET
 * with a body. False when it is acceptable. */
bool metrics_admin_refusal(const char *method, bool has_body, metrics_admin_answer *out);
/* The answer to an accepted GET of path: /metrics (the exposition), /healthz, /readyz (ready()
 * false: 503; ready may be NULL), else 404. */
metrics_admin_answer metrics_admin_get(const char *path, bool (*ready)(void));

/* Serves GET /metrics, /healthz (200 while the process runs) and /readyz (200 when
 * ready() returns true, 503 otherwise; ready may be NULL) on addr:port in a thread.
 * Returns false with a message when the port cannot be bound. Port 0 picks a free
 * port, which metrics_port() then returns (0 while not serving). */
bool metrics_serve(const char *addr, int port, bool (*ready)(void), char *err, size_t errlen);
int metrics_port(void);
void metrics_stop(void);

#endif
