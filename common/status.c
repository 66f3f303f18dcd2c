/* The rpc_status helpers: building errors, their google.rpc.Status wire form (the
 * grpc-status-details-bin trailer) and the one gRPC-to-HTTP status mapping. */
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"

#define ERROR_INFO_TYPE_URL "type.googleapis.com/google.rpc.ErrorInfo"

rpc_status rpc_error(arena *a, grpc_status_code code, const char *reason, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *message = arena_vprintf(a, fmt, ap);
  va_end(ap);
  return (rpc_status){.code = code, .message = message, .reason = reason};
}

rpc_status rpc_invalid(arena *a, const char *field, const char *reason, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *message = arena_vprintf(a, fmt, ap);
  va_end(ap);
  return (rpc_status){.code = GRPC_STATUS_INVALID_ARGUMENT,
                      .message = message,
                      .reason = reason ? reason : "INVALID_ARGUMENT",
                      .field = field};
}

rpc_status rpc_internal(const char *log_detail) {
  log_error("internal error: %s", log_detail);
  return (rpc_status){.code = GRPC_STATUS_INTERNAL, .message = "internal error", .reason = "INTERNAL"};
}

uint8_t *rpc_status_to_details(arena *a, rpc_status s, size_t *len) {
  Google__Rpc__ErrorInfo info = GOOGLE__RPC__ERROR_INFO__INIT;
  Google__Rpc__ErrorInfo__MetadataEntry entries[2];
  Google__Rpc__ErrorInfo__MetadataEntry *entry_ptrs[2];
  info.reason = (char *)(s.reason ? s.reason : rpc_code_name(s.code));
  info.domain = METRO_ERROR_DOMAIN;
  size_t n = 0;
  if (s.field) {
    google__rpc__error_info__metadata_entry__init(&entries[n]);
    entries[n].key = "field";
    entries[n].value = (char *)s.field;
    entry_ptrs[n] = &entries[n];
    n++;
  }
  if (s.retry_after > 0) {
    google__rpc__error_info__metadata_entry__init(&entries[n]);
    entries[n].key = "retryAfter";
    entries[n].value = arena_printf(a, "%lld", (long long)s.retry_after);
    entry_ptrs[n] = &entries[n];
    n++;
  }
  info.n_metadata = n;
  info.metadata = entry_ptrs;

  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  any.type_url = ERROR_INFO_TYPE_URL;
  any.value.len = google__rpc__error_info__get_packed_size(&info);
  any.value.data = arena_alloc(a, any.value.len);
  google__rpc__error_info__pack(&info, any.value.data);

  Google__Protobuf__Any *details[1] = {&any};
  Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
  status.code = (int32_t)s.code;
  status.message = (char *)(s.message ? s.message : "");
  status.n_details = 1;
  status.details = details;
  *len = google__rpc__status__get_packed_size(&status);
  uint8_t *out = arena_alloc(a, *len);
  google__rpc__status__pack(&status, out);
  return out;
}

bool rpc_status_from_details(arena *a, const uint8_t *data, size_t len, rpc_status *out) {
  ProtobufCAllocator alloc = arena_protobuf_allocator(a);
  Google__Rpc__Status *status = google__rpc__status__unpack(&alloc, len, data);
  if (!status) return false;
  out->code = (grpc_status_code)status->code;
  out->message = status->message;
  for (size_t i = 0; i < status->n_details; i++) {
    const Google__Protobuf__Any *any = status->details[i];
    if (!any->type_url || strcmp(any->type_url, ERROR_INFO_TYPE_URL) != 0) continue;
    Google__Rpc__ErrorInfo *info = google__rpc__error_info__unpack(&alloc, any->value.len, any->value.data);
    if (!info) return false;
    out->reason = info->reason;
    for (size_t m = 0; m < info->n_metadata; m++) {
      const char *key = info->metadata[m]->key, *value = info->metadata[m]->value;
      if (strcmp(key, "field") == 0) out->field = value;
      if (strcmp(key, "retryAfter") == 0) out->retry_after = strtoll(value, NULL, 10);
    }
  }
  return true;
}

/* Code names and HTTP statuses, indexed by grpc_status_code (google/rpc/code.proto). */
static const struct {
  const char *name;
  int http;
} code_table[] = {
    [GRPC_STATUS_OK] = {"OK", 200},
    [GRPC_STATUS_CANCELLED] = {"CANCELLED", 499},
    [GRPC_STATUS_UNKNOWN] = {"UNKNOWN", 500},
    [GRPC_STATUS_INVALID_ARGUMENT] = {"INVALID_ARGUMENT", 400},
    [GRPC_STATUS_DEADLINE_EXCEEDED] = {"DEADLINE_EXCEEDED", 504},
    [GRPC_STATUS_NOT_FOUND] = {"NOT_FOUND", 404},
    [GRPC_STATUS_ALREADY_EXISTS] = {"ALREADY_EXISTS", 409},
    [GRPC_STATUS_PERMISSION_DENIED] = {"PERMISSION_DENIED", 403},
    [GRPC_STATUS_RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", 429},
    [GRPC_STATUS_FAILED_PRECONDITION] = {"FAILED_PRECONDITION", 400},
    [GRPC_STATUS_ABORTED] = {"ABORTED", 409},
    [GRPC_STATUS_OUT_OF_RANGE] = {"OUT_OF_RANGE", 400},
    [GRPC_STATUS_UNIMPLEMENTED] = {"UNIMPLEMENTED", 501},
    [GRPC_STATUS_INTERNAL] = {"INTERNAL", 500},
    [GRPC_STATUS_UNAVAILABLE] = {"UNAVAILABLE", 503},
    [GRPC_STATUS_DATA_LOSS] = {"DATA_LOSS", 500},
    [GRPC_STATUS_UNAUTHENTICATED] = {"UNAUTHENTICATED", 401},
};

/* Domain reasons whose HTTP status the specification fixes beyond the code mapping. */
static const struct {
  const char *reason;
  int http;
} reason_table[] = {
    {"ACCOUNT_LOCKED", 423},
    {"NO_ROUTE", 422},
    {"PAYLOAD_TOO_LARGE", 413},
    {"TOO_MANY_QUERY_PARAMETERS", 414},
    {"UNSUPPORTED_MEDIA_TYPE", 415},
    {"METHOD_NOT_ALLOWED", 405},
    /* Conflicts with the current state of the network or of a ticket (FAILED_PRECONDITION). */
    {"STATION_INACTIVE", 409},
    {"ROUTE_INACTIVE", 409},
    {"PASS_NOT_AVAILABLE", 409},
    {"INVALID_STATUS_TRANSITION", 409},
    {"TICKET_NOT_CANCELLABLE", 409},
    {"IDEMPOTENCY_KEY_REUSED", 409},
    {"TICKET_NOT_ACTIVE", 409},
    {"NO_ENTRY_RECORDED", 409},
    {"PAYMENT_NOT_OPEN", 409},
    {"PAYMENT_NOT_APPROVED", 409},
    {"PAYMENT_NOT_REFUND_PENDING", 409},
    {"NO_REVIEW_PENDING", 409},
    {"NOTIFICATION_ALREADY_SENT", 409},
    {"NOTIFICATION_NOT_SENDABLE", 409},
    {"TEMPLATE_IN_USE", 409},
    {"REPORT_NOT_READY", 409},
};

const char *rpc_code_name(grpc_status_code code) {
  if ((unsigned)code < sizeof code_table / sizeof code_table[0] && code_table[code].name)
    return code_table[code].name;
  return "UNKNOWN";
}

int rpc_http_status(grpc_status_code code, const char *reason) {
  if (reason)
    for (size_t i = 0; i < sizeof reason_table / sizeof reason_table[0]; i++)
      if (strcmp(reason, reason_table[i].reason) == 0) return reason_table[i].http;
  if ((unsigned)code < sizeof code_table / sizeof code_table[0] && code_table[code].name)
    return code_table[code].http;
  return 500;
}
