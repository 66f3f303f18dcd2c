/* The gRPC server and client metrics of rpc_metrics.h: the families of each side, registered on
 * first use, and a bounded table of methods whose series are resolved once, so a call only adds. */
#include "common/rpc_metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RPC_CODE_COUNT 17
#define MAX_METHODS 512   /* methods per process, both sides; later ones count as "unknown" */
#define RESERVED_METHODS 4 /* room for the "unknown" entries of each side and type */
#define METHOD_SLOTS (2 * MAX_METHODS)

/* Indexed by grpc_status_code. */
static const char *const CODE_LABELS[RPC_CODE_COUNT] = {
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
    "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"};

const char *rpc_code_label(grpc_status_code code) {
  return code >= 0 && (int)code < RPC_CODE_COUNT ? CODE_LABELS[code] : "Unknown";
}

/* The five families of one side. */
typedef struct side_families {
  metric_family *started, *handled, *seconds, *received, *sent;
} side_families;

struct rpc_method_metrics {
  rpc_metrics_side side;
  char *type, *path;
  char *service, *method;
  metric_series *started, *received, *sent, *seconds;
  metric_series *handled[RPC_CODE_COUNT]; /* resolved on the first call ending with each code */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static side_families g_sides[2];
static bool g_registered[2];
static rpc_method_metrics *g_slots[METHOD_SLOTS];
static int g_methods;

static const char *const LABELS[] = {"grpc_type", "grpc_service", "grpc_method", "grpc_code"};

/* Registers the families of a side (caller holds g_lock). */
static void register_side(rpc_metrics_side side) {
  if (g_registered[side]) return;
  side_families *f = &g_sides[side];
  if (side == RPC_METRICS_SERVER) {
    f->started = metrics_counter_v("grpc_server_started_total", "RPCs started on the server.", LABELS, 3);
    f->handled = metrics_counter_v("grpc_server_handled_total",
                                   "RPCs completed on the server, whatever their status code.", LABELS, 4);
    f->seconds = metrics_histogram_v("grpc_server_handling_seconds",
                                     "Time the server took to handle an RPC, start to status, in seconds.", LABELS, 3);
    f->received = metrics_counter_v("grpc_server_msg_received_total", "Messages the server received on RPCs.",
                                    LABELS, 3);
    f->sent = metrics_counter_v("grpc_server_msg_sent_total", "Messages the server sent on RPCs.", LABELS, 3);
  } else {
    f->started = metrics_counter_v("grpc_client_started_total", "RPCs started by the client.", LABELS, 3);
    f->handled = metrics_counter_v("grpc_client_handled_total",
                                   "RPCs completed by the client, whatever their status code.", LABELS, 4);
    f->seconds = metrics_histogram_v("grpc_client_handling_seconds",
                                     "Time from the client starting an RPC to its status, in seconds.", LABELS, 3);
    f->received = metrics_counter_v("grpc_client_msg_received_total", "Messages the client received on RPCs.",
                                    LABELS, 3);
    f->sent = metrics_counter_v("grpc_client_msg_sent_total", "Messages the client sent on RPCs.", LABELS, 3);
  }
  g_registered[side] = true;
}

static uint32_t key_hash(rpc_metrics_side side, const char *type, const char *path) {
  uint32_t h = 2166136261u ^ (uint32_t)side; /* FNV-1a */
  for (const char *p = type; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  h = (h ^ 0xFFu) * 16777619u;
  for (const char *p = path; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  return h;
}

/* The slash before the method of "/pkg.Service/Method"; NULL for anything else. */
static const char *method_slash(const char *path) {
  const char *slash = path[0] == '/' ? strrchr(path, '/') : NULL;
  return slash && slash > path + 1 && slash[1] ? slash : NULL;
}

/* "/pkg.Service/Method" into its two names; false for anything else. */
static bool split_path(const char *path, char **service, char **method) {
  const char *slash = method_slash(path);
  if (!slash) return false;
  *service = strndup(path + 1, (size_t)(slash - path - 1));
  *method = strdup(slash + 1);
  return *service && *method;
}

/* A new entry with its series at zero (caller holds g_lock); NULL when out of memory. */
static rpc_method_metrics *method_new(rpc_metrics_side side, const char *type, const char *path) {
  rpc_method_metrics *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->side = side;
  m->type = strdup(type);
  m->path = strdup(path);
  if (!m->type || !m->path || !split_path(path, &m->service, &m->method)) {
    free(m->service);
    free(m->method);
    m->service = strdup("unknown");
    m->method = strdup("unknown");
  }
  if (!m->type || !m->path || !m->service || !m->method) {
    free(m->type);
    free(m->path);
    free(m->service);
    free(m->method);
    free(m);
    return NULL;
  }
  const side_families *f = &g_sides[side];
  const char *values[3] = {m->type, m->service, m->method};
  m->started = metrics_series(f->started, values);
  m->received = metrics_series(f->received, values);
  m->sent = metrics_series(f->sent, values);
  m->seconds = metrics_series(f->seconds, values);
  return m;
}

rpc_method_metrics *rpc_method_metrics_get(rpc_metrics_side side, const char *type, const char *path) {
  static rpc_method_metrics fallback; /* out of memory: counts nowhere */
  if (!path || !method_slash(path)) path = ""; /* one "unknown" entry for every malformed path */
  pthread_mutex_lock(&g_lock);
  register_side(side);
  if (g_methods >= MAX_METHODS - RESERVED_METHODS) path = ""; /* full: the "unknown" entry */
  uint32_t h = key_hash(side, type, path);
  rpc_method_metrics *found = NULL;
  for (uint32_t probe = 0; probe < METHOD_SLOTS; probe++) {
    rpc_method_metrics **slot = &g_slots[(h + probe) % METHOD_SLOTS];
    if (!*slot) {
      if (g_methods < MAX_METHODS && (*slot = method_new(side, type, path)) != NULL) g_methods++;
      found = *slot;
      break;
    }
    if ((*slot)->side == side && strcmp((*slot)->type, type) == 0 && strcmp((*slot)->path, path) == 0) {
      found = *slot;
      break;
    }
  }
  pthread_mutex_unlock(&g_lock);
  return found ? found : &fallback;
}

void rpc_metrics_started(rpc_method_metrics *m) { metrics_series_add(m->started, 1); }

void rpc_metrics_msg_received(rpc_method_metrics *m) { metrics_series_add(m->received, 1); }

void rpc_metrics_msg_sent(rpc_method_metrics *m) { metrics_series_add(m->sent, 1); }

void rpc_metrics_handled(rpc_method_metrics *m, grpc_status_code code, double seconds) {
  if (!m->path) return; /* the fallback entry */
  int c = code >= 0 && (int)code < RPC_CODE_COUNT ? (int)code : GRPC_STATUS_UNKNOWN;
  metric_series *s = __atomic_load_n(&m->handled[c], __ATOMIC_ACQUIRE);
  if (!s) { /* two threads may both resolve it: they get the same series */
    const char *values[4] = {m->type, m->service, m->method, CODE_LABELS[c]};
    s = metrics_series(g_sides[m->side].handled, values);
    __atomic_store_n(&m->handled[c], s, __ATOMIC_RELEASE);
  }
  metrics_series_add(s, 1);
  metrics_series_observe(m->seconds, seconds);
}

void rpc_metrics_client_finished(const char *path, grpc_status_code code, double seconds, bool sent, bool received) {
  rpc_method_metrics *m = rpc_method_metrics_get(RPC_METRICS_CLIENT, RPC_TYPE_UNARY, path);
  if (sent) rpc_metrics_msg_sent(m);
  if (received) rpc_metrics_msg_received(m);
  rpc_metrics_handled(m, code, seconds);
}
