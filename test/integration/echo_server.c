/* metro-echo-test: a gRPC server of the test-only metro.testing.v1.EchoService on the
 * shared runtime, used to prove the transcoder, identity propagation and draining. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/log.h"
#include "common/rpc_server.h"
#include "metro/testing/v1/testing.pb-c.h"

extern const unsigned char metro_testing_descriptor_set[];
extern const size_t metro_testing_descriptor_set_len;

static rpc_status echo(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  Metro__Testing__V1__EchoResponse *resp =
      RPC_NEW(ctx, Metro__Testing__V1__EchoResponse, metro__testing__v1__echo_response__init);
  resp->echoed = (Metro__Testing__V1__EchoRequest *)msg;
  resp->caller = (char *)(ctx->caller.user_id ? ctx->caller.user_id : "");
  resp->n_caller_roles = (size_t)ctx->caller.n_roles;
  resp->caller_roles = (char **)ctx->caller.roles;
  resp->request_id = (char *)ctx->request_id;
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status sleep_for(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Testing__V1__SleepRequest *r = (const void *)msg;
  if (r->millis < 0 || r->millis > 10000)
    return rpc_invalid(ctx->arena, "millis", NULL, "millis must be 0-10000");
  struct timespec ts = {.tv_sec = r->millis / 1000, .tv_nsec = (long)(r->millis % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  *out = &RPC_NEW(ctx, Google__Protobuf__Empty, google__protobuf__empty__init)->base;
  return RPC_OK;
}

static rpc_status fail(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)out;
  const Metro__Testing__V1__FailRequest *r = (const void *)msg;
  if (r->code <= 0 || r->code > 16) return rpc_invalid(ctx->arena, "code", NULL, "code must be 1-16");
  rpc_status st = rpc_error(ctx->arena, (grpc_status_code)r->code, r->reason && *r->reason ? r->reason : NULL, "%s",
                            r->message ? r->message : "");
  if (strcmp(st.reason ? st.reason : "", "ACCOUNT_LOCKED") == 0) st.retry_after = 42;
  return st;
}

static const rpc_method_impl methods[] = {
    {"Echo", echo, 0}, {"WhoAmI", echo, 0}, {"AdminOnly", echo, 0}, {"Sleep", sleep_for, 0}, {"Fail", fail, 0},
};

int main(void) {
  rpc_block_signals();
  char *addr, *secret;
  int64_t drain_ms;
  const cfg_setting settings[] = {
      {"METRO_GRPC_ADDR", CFG_STRING, "127.0.0.1:0", false, 0, 0, &addr, "listen address"},
      {"METRO_IDENTITY_SECRET", CFG_SECRET, NULL, true, 0, 0, &secret, "gateway HMAC key"},
      {"METRO_DRAIN_TIMEOUT_MS", CFG_INT, "5000", false, 0, 600000, &drain_ms, "drain bound"},
  };
  if (!cfg_load(settings, 3)) return 2;
  log_init("echo-test", LOG_INFO);
  rpc_service_impl svc = {&metro__testing__v1__echo_service__descriptor, methods, sizeof methods / sizeof methods[0]};
  rpc_server_config cfg = {.service_name = "echo-test", .listen_addr = addr, .workers = 4, .services = &svc,
                           .n_services = 1, .descriptor_set = metro_testing_descriptor_set,
                           .descriptor_set_len = metro_testing_descriptor_set_len, .identity_secret = secret,
                           .default_timeout_ms = 15000, .drain_timeout_ms = (int)drain_ms};
  char err[256];
  rpc_server *s = rpc_server_start(&cfg, err, sizeof err);
  if (!s) {
    log_error("%s", err);
    return 1;
  }
  rpc_server_wait(s);
  rpc_server_destroy(s);
  return 0;
}
