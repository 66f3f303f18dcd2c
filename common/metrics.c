/* Prometheus metrics: a registry of counter, gauge and histogram families with up to four labels
 * and bounded series, rendered in text format 0.0.4 with process metrics (served over HTTP by
 * metrics_http.c). */
#include "common/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;

static const char *const METRIC_TYPE_NAMES[] = {
    [METRIC_COUNTER] = "counter", [METRIC_GAUGE] = "gauge", [METRIC_HISTOGRAM] = "histogram"};

/* Upper bounds of the latency buckets in seconds; +Inf is the series count. */
static const double METRICS_BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
enum {
  METRICS_BUCKET_COUNT = sizeof METRICS_BUCKETS / sizeof METRICS_BUCKETS[0],
  METRICS_MAX_FAMILIES = 256,
  METRICS_LABEL_VALUE_MAX = 128, /* bytes kept of a label value */
  METRICS_HASH_SLOTS = 2 * METRICS_MAX_SERIES,
};
#define METRICS_OTHER "other"

struct metric_series {
  metric_family *family; /* whose lock guards the numbers below */
  char *values[METRICS_MAX_LABELS];
  size_t lens[METRICS_MAX_LABELS];
  double value; /* counters and gauges */
  double sum;   /* histograms */
  uint64_t count;
  uint64_t buckets[METRICS_BUCKET_COUNT]; /* observations per bucket, not cumulative */
};

struct metric_family {
  char *name, *help;
  metric_type type;
  char *labels[METRICS_MAX_LABELS];
  int label_count;
  pthread_mutex_t lock; /* guards the series below */
  int series_count;
  metric_series *series[METRICS_MAX_SERIES];
  int slots[METRICS_HASH_SLOTS]; /* index + 1 into series, 0 = empty */
};

/* Label values as stored: each cut to its bounded length. */
typedef struct {
  const char *v[METRICS_MAX_LABELS];
  size_t n[METRICS_MAX_LABELS];
} label_values;

static pthread_mutex_t g_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static metric_family *g_families[METRICS_MAX_FAMILIES];
static int g_family_count;
static double g_start_time;

__attribute__((constructor)) static void metrics_note_start_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  g_start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- registration ---- */

static bool valid_name(const char *s, bool colons) {
  if (!s || !*s) return false;
  for (size_t i = 0; s[i]; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

static bool valid_label(const char *s, metric_type type) {
  if (!valid_name(s, false) || strncmp(s, "__", 2) == 0) return false;
  return !(type == METRIC_HISTOGRAM && strcmp(s, "le") == 0);
}

static bool valid_labels(const char *const *labels, int n, metric_type type) {
  if (n < 0 || n > METRICS_MAX_LABELS || (n > 0 && !labels)) return false;
  for (int i = 0; i < n; i++) {
    if (!valid_label(labels[i], type)) return false;
    for (int k = 0; k < i; k++)
      if (strcmp(labels[i], labels[k]) == 0) return false;
  }
  return true;
}

static bool same_labels(const metric_family *f, const char *const *labels, int n) {
  if (f->label_count != n) return false;
  for (int i = 0; i < n; i++)
    if (strcmp(f->labels[i], labels[i]) != 0) return false;
  return true;
}

static void family_free(metric_family *f) {
  if (!f) return;
  free(f->name);
  free(f->help);
  for (int i = 0; i < METRICS_MAX_LABELS; i++) free(f->labels[i]);
  free(f);
}

static metric_series *family_add_series(metric_family *f, const label_values *lv);

/* Registers a family, or returns the one already registered under that name when it has
 * the same type and labels. Returns NULL (with a message on stderr) on a bad definition;
 * operations on a NULL family do nothing. */
static metric_family *metrics_register(metric_type type, const char *name, const char *help,
                                       const char *const *labels, int n) {
  if (!valid_name(name, true) || !valid_labels(labels, n, type)) {
    fprintf(stderr, "metrics: invalid definition of %s\n", name ? name : "(null)");
    return NULL;
  }
  pthread_mutex_lock(&g_registry_lock);
  metric_family *found = NULL;
  for (int i = 0; i < g_family_count; i++)
    if (strcmp(g_families[i]->name, name) == 0) found = g_families[i];
  if (found) {
    pthread_mutex_unlock(&g_registry_lock);
    if (found->type == type && same_labels(found, labels, n)) return found;
    fprintf(stderr, "metrics: %s is already registered with another type or labels\n", name);
    return NULL;
  }
  metric_family *f = g_family_count < METRICS_MAX_FAMILIES ? calloc(1, sizeof *f) : NULL;
  if (f) {
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->label_count = n;
    bool ok = f->name && f->help;
    for (int i = 0; i < n; i++) ok = (f->labels[i] = strdup(labels[i])) != NULL && ok;
    pthread_mutex_init(&f->lock, NULL);
    /* A family without labels shows its single series (at zero) from the start. */
    label_values none = {.n = {0}};
    if (ok && n == 0) ok = family_add_series(f, &none) != NULL;
    if (!ok) {
      pthread_mutex_destroy(&f->lock);
      family_free(f);
      f = NULL;
    }
  }
  if (f) g_families[g_family_count++] = f;
  pthread_mutex_unlock(&g_registry_lock);
  if (!f) fprintf(stderr, "metrics: cannot register %s\n", name);
  return f;
}

metric_family *metrics_counter_v(const char *name, const char *help, const char *const *labels, int n_labels) {
  return metrics_register(METRIC_COUNTER, name, help, labels, n_labels);
}

metric_family *metrics_gauge_v(const char *name, const char *help, const char *const *labels, int n_labels) {
  return metrics_register(METRIC_GAUGE, name, help, labels, n_labels);
}

metric_family *metrics_histogram_v(const char *name, const char *help, const char *const *labels, int n_labels) {
  return metrics_register(METRIC_HISTOGRAM, name, help, labels, n_labels);
}

/* ---- series lookup (caller holds f->lock) ---- */

static uint32_t series_hash(const metric_family *f, const label_values *lv) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (int k = 0; k < f->label_count; k++) {
    for (size_t i = 0; i < lv->n[k]; i++) h = (h ^ (unsigned char)lv->v[k][i]) * 16777619u;
    h = (h ^ 0xFFu) * 16777619u; /* separator: ("ab","c") and ("a","bc") differ */
  }
  return h;
}

static bool series_matches(const metric_family *f, const metric_series *s, const label_values *lv) {
  for (int k = 0; k < f->label_count; k++)
    if (s->lens[k] != lv->n[k] || memcmp(s->values[k], lv->v[k], lv->n[k]) != 0) return false;
  return true;
}

static metric_series *family_find_series(metric_family *f, const label_values *lv) {
  uint32_t h = series_hash(f, lv);
  for (uint32_t probe = 0; probe < METRICS_HASH_SLOTS; probe++) {
    int idx = f->slots[(h + probe) % METRICS_HASH_SLOTS];
    if (idx == 0) return NULL;
    if (series_matches(f, f->series[idx - 1], lv)) return f->series[idx - 1];
  }
  return NULL;
}

static char *copy_bytes(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

static void series_free(metric_series *s) {
  for (int k = 0; k < METRICS_MAX_LABELS; k++) free(s->values[k]);
  free(s);
}

static metric_series *family_add_series(metric_family *f, const label_values *lv) {
  if (f->series_count >= METRICS_MAX_SERIES) return NULL;
  metric_series *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->family = f;
  for (int k = 0; k < f->label_count; k++) {
    if (!(s->values[k] = copy_bytes(lv->v[k], lv->n[k]))) {
      series_free(s);
      return NULL;
    }
    s->lens[k] = lv->n[k];
  }
  f->series[f->series_count++] = s;
  uint32_t h = series_hash(f, lv);
  for (uint32_t probe = 0;; probe++) {
    int *slot = &f->slots[(h + probe) % METRICS_HASH_SLOTS];
    if (*slot == 0) {
      *slot = f->series_count;
      break;
    }
  }
  return s;
}

/* At most METRICS_LABEL_VALUE_MAX bytes of s, never ending inside a UTF-8 character. */
static size_t bounded_len(const char *s) {
  size_t n = strnlen(s, METRICS_LABEL_VALUE_MAX + 1);
  if (n <= METRICS_LABEL_VALUE_MAX) return n;
  n = METRICS_LABEL_VALUE_MAX;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] continues a character */
  return n;
}

/* The series for these label values, created on first use. When only one slot is left,
 * new combinations go to the series whose every label is "other". */
static metric_series *family_series(metric_family *f, const char *const *values) {
  label_values lv = {.n = {0}};
  for (int k = 0; k < f->label_count; k++) {
    lv.v[k] = values && values[k] ? values[k] : "";
    lv.n[k] = bounded_len(lv.v[k]);
  }
  metric_series *s = family_find_series(f, &lv);
  if (s) return s;
  if (f->series_count < METRICS_MAX_SERIES - 1) return family_add_series(f, &lv);
  for (int k = 0; k < f->label_count; k++) {
    lv.v[k] = METRICS_OTHER;
    lv.n[k] = strlen(METRICS_OTHER);
  }
  s = family_find_series(f, &lv);
  return s ? s : family_add_series(f, &lv);
}

/* ---- updates ---- */

metric_series *metrics_series(metric_family *f, const char *const *values) {
  if (!f) return NULL;
  pthread_mutex_lock(&f->lock);
  metric_series *s = family_series(f, values);
  pthread_mutex_unlock(&f->lock);
  return s;
}

/* The bucket an observation falls in; METRICS_BUCKET_COUNT for +Inf only. */
static int bucket_of(double value) {
  int bucket = 0;
  while (bucket < METRICS_BUCKET_COUNT && value > METRICS_BUCKETS[bucket]) bucket++;
  return bucket;
}

/* Both callers hold s->family->lock. */
static void series_add_locked(metric_series *s, double by) { s->value += by; }

static void series_observe_locked(metric_series *s, int bucket, double value) {
  if (bucket < METRICS_BUCKET_COUNT) s->buckets[bucket]++;
  s->count++;
  s->sum += value;
}

static bool add_allowed(const metric_family *f, double by) {
  if (f->type == METRIC_HISTOGRAM || isnan(by)) return false;
  return !(f->type == METRIC_COUNTER && by < 0); /* counters only go up */
}

void metrics_series_add(metric_series *s, double by) {
  if (!s || !add_allowed(s->family, by)) return;
  pthread_mutex_lock(&s->family->lock);
  series_add_locked(s, by);
  pthread_mutex_unlock(&s->family->lock);
}

void metrics_series_set(metric_series *s, double value) {
  if (!s || s->family->type != METRIC_GAUGE) return;
  pthread_mutex_lock(&s->family->lock);
  s->value = value;
  pthread_mutex_unlock(&s->family->lock);
}

void metrics_series_observe(metric_series *s, double value) {
  if (!s || s->family->type != METRIC_HISTOGRAM || isnan(value)) return;
  int bucket = bucket_of(value);
  pthread_mutex_lock(&s->family->lock);
  series_observe_locked(s, bucket, value);
  pthread_mutex_unlock(&s->family->lock);
}

void metrics_add_v(metric_family *f, const char *const *values, double by) {
  if (!f || !add_allowed(f, by)) return;
  pthread_mutex_lock(&f->lock);
  metric_series *s = family_series(f, values);
  if (s) series_add_locked(s, by);
  pthread_mutex_unlock(&f->lock);
}

void metrics_set_v(metric_family *f, const char *const *values, double value) {
  if (!f || f->type != METRIC_GAUGE) return;
  pthread_mutex_lock(&f->lock);
  metric_series *s = family_series(f, values);
  if (s) s->value = value;
  pthread_mutex_unlock(&f->lock);
}

void metrics_observe_v(metric_family *f, const char *const *values, double value) {
  if (!f || f->type != METRIC_HISTOGRAM || isnan(value)) return;
  int bucket = bucket_of(value);
  pthread_mutex_lock(&f->lock);
  metric_series *s = family_series(f, values);
  if (s) series_observe_locked(s, bucket, value);
  pthread_mutex_unlock(&f->lock);
}

/* ---- the two-label forms ---- */

/* Label names l1, l2 as an array; n is -1 for a second label without a first. */
static int two_labels(const char *l1, const char *l2, const char *out[2]) {
  out[0] = l1;
  out[1] = l2;
  return l2 ? (l1 ? 2 : -1) : l1 ? 1 : 0;
}

metric_family *metrics_counter(const char *name, const char *help, const char *label1, const char *label2) {
  const char *l[2];
  return metrics_counter_v(name, help, l, two_labels(label1, label2, l));
}

metric_family *metrics_gauge(const char *name, const char *help, const char *label1, const char *label2) {
  const char *l[2];
  return metrics_gauge_v(name, help, l, two_labels(label1, label2, l));
}

metric_family *metrics_histogram(const char *name, const char *help, const char *label1, const char *label2) {
  const char *l[2];
  return metrics_histogram_v(name, help, l, two_labels(label1, label2, l));
}

void metrics_add(metric_family *f, const char *v1, const char *v2, double by) {
  metrics_add_v(f, (const char *const[]){v1, v2}, by);
}

void metrics_set(metric_family *f, const char *v1, const char *v2, double value) {
  metrics_set_v(f, (const char *const[]){v1, v2}, value);
}

void metrics_observe(metric_family *f, const char *v1, const char *v2, double value) {
  metrics_observe_v(f, (const char *const[]){v1, v2}, value);
}

/* ---- rendering ---- */

typedef struct {
  char *data;
  size_t len, cap;
  bool failed;
} text_buf;

static void text_append(text_buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void text_puts(text_buf *b, const char *s) { text_append(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void text_printf(text_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) text_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Escapes a label value (backslash, double quote, newline) or help text (backslash, newline). */
static void text_escaped(text_buf *b, const char *s, size_t n, bool quotes) {
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '\n' ? "\\n" : (quotes && s[i] == '"') ? "\\\"" : NULL;
    if (!esc) continue;
    text_append(b, s + start, i - start);
    text_append(b, esc, 2);
    start = i + 1;
  }
  text_append(b, s + start, n - start);
}

/* Shortest text that reads back as the same double; Prometheus spellings for the specials. */
static void format_number(double v, char *out, size_t cap) {
  if (isnan(v)) {
    snprintf(out, cap, "NaN");
  } else if (isinf(v)) {
    snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
  } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
    snprintf(out, cap, "%.0f", v);
  } else {
    for (int precision = 1; precision <= 17; precision++) {
      snprintf(out, cap, "%.*g", precision, v);
      if (strtod(out, NULL) == v) break;
    }
  }
}

static void text_number(text_buf *b, double v) {
  char num[40];
  format_number(v, num, sizeof num);
  text_puts(b, num);
}

/* Writes `name_suffix{labels[,le="..."]} ` for one series. */
static void render_series_name(text_buf *b, const metric_family *f, const char *suffix, const metric_series *s,
                               const char *le) {
  text_puts(b, f->name);
  text_puts(b, suffix);
  if (f->label_count == 0 && !le) {
    text_puts(b, " ");
    return;
  }
  text_puts(b, "{");
  for (int i = 0; i < f->label_count; i++) {
    if (i) text_puts(b, ",");
    text_puts(b, f->labels[i]);
    text_puts(b, "=\"");
    text_escaped(b, s->values[i], s->lens[i], true);
    text_puts(b, "\"");
  }
  if (le) {
    if (f->label_count) text_puts(b, ",");
    text_puts(b, "le=\"");
    text_puts(b, le);
    text_puts(b, "\"");
  }
  text_puts(b, "} ");
}

static void render_histogram_series(text_buf *b, const metric_family *f, const metric_series *s) {
  uint64_t cumulative = 0;
  char le[40];
  for (int i = 0; i < METRICS_BUCKET_COUNT; i++) {
    cumulative += s->buckets[i];
    format_number(METRICS_BUCKETS[i], le, sizeof le);
    render_series_name(b, f, "_bucket", s, le);
    text_printf(b, "%llu\n", (unsigned long long)cumulative);
  }
  render_series_name(b, f, "_bucket", s, "+Inf");
  text_printf(b, "%llu\n", (unsigned long long)s->count);
  render_series_name(b, f, "_sum", s, NULL);
  text_number(b, s->sum);
  text_puts(b, "\n");
  render_series_name(b, f, "_count", s, NULL);
  text_printf(b, "%llu\n", (unsigned long long)s->count);
}

static void render_header(text_buf *b, const char *name, const char *help, const char *type) {
  text_printf(b, "# HELP %s ", name);
  text_escaped(b, help, strlen(help), false);
  text_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void render_family(text_buf *b, metric_family *f) {
  render_header(b, f->name, f->help, METRIC_TYPE_NAMES[f->type]);
  pthread_mutex_lock(&f->lock);
  for (int i = 0; i < f->series_count; i++) {
    const metric_series *s = f->series[i];
    if (f->type == METRIC_HISTOGRAM) {
      render_histogram_series(b, f, s);
    } else {
      render_series_name(b, f, "", s, NULL);
      text_number(b, s->value);
      text_puts(b, "\n");
    }
  }
  pthread_mutex_unlock(&f->lock);
}

static void render_process_value(text_buf *b, const char *name, const char *help, const char *type, double v) {
  render_header(b, name, help, type);
  text_printf(b, "%s ", name);
  text_number(b, v);
  text_puts(b, "\n");
}

static int count_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the directory stream's own descriptor */
}

static void render_process(text_buf *b) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    render_process_value(b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                         "counter", cpu);
  }
  FILE *statm = fopen("/proc/self/statm", "r");
  if (statm) {
    unsigned long long size = 0, resident = 0;
    if (fscanf(statm, "%llu %llu", &size, &resident) == 2) {
      double page = (double)sysconf(_SC_PAGESIZE);
      render_process_value(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
                           (double)size * page);
      render_process_value(b, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                           (double)resident * page);
    }
    fclose(statm);
  }
  int fds = count_open_fds();
  if (fds >= 0) render_process_value(b, "process_open_fds", "Number of open file descriptors.", "gauge", fds);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    render_process_value(b, "process_max_fds", "Maximum number of open file descriptors.", "gauge",
                         (double)rl.rlim_cur);
  render_process_value(b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                       "gauge", g_start_time);
}

char *metrics_render(void) {
  text_buf b = {0};
  pthread_mutex_lock(&g_registry_lock);
  for (int i = 0; i < g_family_count; i++) render_family(&b, g_families[i]);
  pthread_mutex_unlock(&g_registry_lock);
  render_process(&b);
  if (b.failed) {
    free(b.data);
    return NULL;
  }
  return b.data ? b.data : strdup("");
}

/* ---- what an admin port answers ---- */

#define ADMIN_TEXT "text/plain; charset=utf-8"

static metrics_admin_answer admin_text(int status, const char *text) {
  return (metrics_admin_answer){.status = status, .content_type = ADMIN_TEXT, .body = (char *)text};
}

bool metrics_admin_refusal(const char *method, bool has_body, metrics_admin_answer *out) {
  if (strcmp(method, "GET") != 0) *out = admin_text(405, "method not allowed\n");
  else if (has_body) *out = admin_text(400, "a GET request has no body\n");
  else return false;
  return true;
}

metrics_admin_answer metrics_admin_get(const char *path, bool (*ready)(void)) {
  if (strcmp(path, "/metrics") == 0) {
    char *text = metrics_render();
    if (!text) return admin_text(500, "out of memory\n");
    return (metrics_admin_answer){.status = 200, .content_type = "text/plain; version=0.0.4; charset=utf-8",
                                  .body = text, .owned = true};
  }
  if (strcmp(path, "/healthz") == 0) return admin_text(200, "ok\n");
  if (strcmp(path, "/readyz") == 0)
    return ready && !ready() ? admin_text(503, "not ready\n") : admin_text(200, "ready\n");
  return admin_text(404, "not found\n");
}
