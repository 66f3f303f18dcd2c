/* Request transcoding, free of any HTTP server: the protobuf request of a matched REST route
 * built from its JSON body, path variables and raw query string (google.api.http rules). */
#ifndef METRO_TRANSCODE_H
#define METRO_TRANSCODE_H

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "common/arena.h"
#include "transcoder/routes.h"

/* Why a request could not be built: a gRPC code (INVALID_ARGUMENT), the ErrorInfo reason
 * (UNEXPECTED_BODY, MALFORMED_JSON, INVALID_ARGUMENT, TOO_MANY_QUERY_PARAMETERS), the offending
 * field as the request spelled it (NULL when none) and a message for humans. Strings live in the
 * arena (or are static); on success code is GRPC_STATUS_OK and the strings are NULL. */
typedef struct transcode_error {
  grpc_status_code code;
  const char *reason;
  const char *field;
  const char *message;
} transcode_error;

/* Builds the request message of `input` (the route's request type) for a JSON route, into the
 * arena: the body first, by the route's body rule ("" none: any body is UNEXPECTED_BODY; "*" the
 * whole message; else that field), then, unless the body rule is "*", the query parameters, then
 * the path variables of m, which so win over both. raw_query (may be NULL) is the bytes after '?' as
 * received: split on '&' (empty pairs skipped), key and value split at the first '=' (a key
 * alone has the value ""), '+' read as a space, then %XX decoded once; a malformed escape or a
 * NUL byte is INVALID_ARGUMENT. More than max_query_params pairs is TOO_MANY_QUERY_PARAMETERS,
 * checked before any is decoded. NULL on failure with err filled. Methods taking
 * metro.api.v1.HttpRequest (route->raw_request) are built by the gateway, not here. */
ProtobufCMessage *transcode_request(arena *a, const route_match *m, const ProtobufCMessageDescriptor *input,
                                    const char *body, size_t body_len, const char *raw_query,
                                    int max_query_params, transcode_error *err);

#endif
