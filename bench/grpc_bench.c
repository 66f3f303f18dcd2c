/* metro-grpc-bench: closed-loop load on one unary gRPC method (empty request) from N
 * threads for D seconds; prints requests/s and p50/p99/max latency in milliseconds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rpc_client.h"
#include "google/protobuf/empty.pb-c.h"
#include "metro/auth/v1/auth.pb-c.h"

#define MAX_SAMPLES_PER_THREAD 2000000

typedef struct worker {
  pthread_t thread;
  double *latencies;
  size_t n, errors;
} worker;

static const char *target, *method;
static double stop_at;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg) {
  worker *w = arg;
  rpc_channel *ch = rpc_channel_get(target);
  Metro__Auth__V1__GetJwksRequest req = METRO__AUTH__V1__GET_JWKS_REQUEST__INIT;
  while (now_s() < stop_at && w->n < MAX_SAMPLES_PER_THREAD) {
    arena *a = arena_create(4096);
    ProtobufCMessage *resp;
    double t0 = now_s();
    rpc_status st = rpc_call_unary(ch, a, method, NULL, &req.base, &metro__auth__v1__jwks__descriptor, &resp, 5000,
                                   INT64_MAX);
    double dt = now_s() - t0;
    if (rpc_ok(st)) w->latencies[w->n++] = dt;
    else w->errors++;
    arena_destroy(a);
  }
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s HOST:PORT THREADS SECONDS   (calls /metro.auth.v1.AuthService/GetJwks)\n", argv[0]);
    return 2;
  }
  target = argv[1];
  method = "/metro.auth.v1.AuthService/GetJwks";
  int threads = atoi(argv[2]);
  double seconds = atof(argv[3]);
  worker *ws = calloc((size_t)threads, sizeof *ws);
  /* warm-up: connect once */
  arena *a = arena_create(4096);
  ProtobufCMessage *resp;
  Metro__Auth__V1__GetJwksRequest req = METRO__AUTH__V1__GET_JWKS_REQUEST__INIT;
  rpc_call_unary(rpc_channel_get(target), a, method, NULL, &req.base, &metro__auth__v1__jwks__descriptor, &resp, 5000,
                 INT64_MAX);
  arena_destroy(a);
  double start = now_s();
  stop_at = start + seconds;
  for (int i = 0; i < threads; i++) {
    ws[i].latencies = malloc(sizeof(double) * MAX_SAMPLES_PER_THREAD);
    pthread_create(&ws[i].thread, NULL, run, &ws[i]);
  }
  size_t total = 0, errors = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ws[i].thread, NULL);
    total += ws[i].n;
    errors += ws[i].errors;
  }
  double elapsed = now_s() - start;
  double *all = malloc(sizeof(double) * (total ? total : 1));
  size_t k = 0;
  for (int i = 0; i < threads; i++) {
    memcpy(all + k, ws[i].latencies, sizeof(double) * ws[i].n);
    k += ws[i].n;
    free(ws[i].latencies);
  }
  qsort(all, total, sizeof(double), cmp);
  printf("requests=%zu errors=%zu seconds=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", total, errors,
         elapsed, (double)total / elapsed, total ? all[total / 2] * 1e3 : 0, total ? all[total * 99 / 100] * 1e3 : 0,
         total ? all[total - 1] * 1e3 : 0);
  free(all);
  free(ws);
  rpc_client_shutdown();
  return errors ? 1 : 0;
}
