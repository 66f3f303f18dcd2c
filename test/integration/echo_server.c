/* metro-echo-test: a gRPC server of the test-only metro.testing.v1.EchoService (and its raw HTTP
 * sibling RawEchoService) on the shared runtime, proving the transcoder, identity and draining. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/log.h"
#include "common/pjson.h"
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
  resp->client_ip = (char *)(ctx->client_ip ? ctx->client_ip : "");
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

/* ---- metro.testing.v1.RawEchoService: raw HTTP through the transcoder ---- */

static Metro__Api__V1__HttpResponse *raw_answer(rpc_ctx *ctx, int status) {
  Metro__Api__V1__HttpResponse *resp =
      RPC_NEW(ctx, Metro__Api__V1__HttpResponse, metro__api__v1__http_response__init);
  resp->status = status;
  return resp;
}

/* {"request": <the HttpRequest as proto3 JSON>, "caller": "<user id>"}, content type left to
 * the gateway's default. */
static rpc_status raw_echo(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  json_t *seen = pjson_encode(msg, PJSON_EMIT_DEFAULTS);
  if (!seen) return rpc_error(ctx->arena, GRPC_STATUS_INTERNAL, NULL, "cannot encode the request");
  json_t *doc = json_pack("{s:o, s:s}", "request", seen, "caller", ctx->caller.user_id ? ctx->caller.user_id : "");
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  Metro__Api__V1__HttpResponse *resp = raw_answer(ctx, 200);
  resp->body.data = (uint8_t *)arena_strdup(ctx->arena, text ? text : "{}");
  resp->body.len = strlen((char *)resp->body.data);
  free(text);
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status raw_redirect(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  const Metro__Api__V1__HttpRequest *req = (const void *)msg;
  Metro__Api__V1__HttpResponse *resp = raw_answer(ctx, 302);
  Metro__Api__V1__HttpHeader *location = RPC_NEW(ctx, Metro__Api__V1__HttpHeader, metro__api__v1__http_header__init);
  location->name = (char *)"location";
  location->value = arena_printf(ctx->arena, "https://shop.example/return?%s", req->raw_query);
  resp->headers = arena_alloc(ctx->arena, sizeof *resp->headers);
  resp->headers[0] = location;
  resp->n_headers = 1;
  resp->content_type = (char *)"text/plain";
  *out = &resp->base;
  return RPC_OK;
}

static rpc_status raw_answer_as_sent(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out) {
  (void)ctx;
  *out = (ProtobufCMessage *)msg;
  return RPC_OK;
}

static const rpc_method_impl raw_methods[] = {
    {"RawEcho", raw_echo, 0},
    {"RawWhoAmI", raw_echo, 0},
    {"RawRedirect", raw_redirect, 0},
    {"RawAnswer", raw_answer_as_sent, 0},
};

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
  const rpc_service_impl svcs[] = {
      {&metro__testing__v1__echo_service__descriptor, methods, sizeof methods / sizeof methods[0]},
      {&metro__testing__v1__raw_echo_service__descriptor, raw_methods, sizeof raw_methods / sizeof raw_methods[0]},
  };
  rpc_server_config cfg = {.service_name = "echo-test", .listen_addr = addr, .workers = 4, .services = svcs,
                           .n_services = sizeof svcs / sizeof svcs[0], .descriptor_set = metro_testing_descriptor_set,
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
