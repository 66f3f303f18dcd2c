/* OpenAPI 3.0 document of the REST surface, generated from the same google.api.http and
 * metro.api.v1.access annotations the route table uses, with proto3-JSON schemas and the protos'
 * comments. */
#ifndef METRO_OPENAPI_H
#define METRO_OPENAPI_H

#include <jansson.h>

#include "common/descset.h"
#include "transcoder/routes.h"

/* A new reference the caller must json_decref; NULL only on allocation failure. Paths use the
 * JSON names of the bound fields ("/v1/auth/users/{userId}"), a multi-segment variable becomes
 * one parameter with a pattern ("/v1/{name}" with "stations/[^/]+"); templates differing only by
 * variable names are one path, named by a top-level field where one binds it (PATCH
 * "/v1/passengers/{passenger.passenger_id}" is listed under "/v1/passengers/{passengerId}").
 * operationId is "Service_Method", suffixed with 2, 3... for additional bindings. The summary is
 * the first sentence of the method's proto comment (its name in words without one), the rest and
 * who may call it the description; schemas, parameters and tags (one per service) take their
 * comments too, when the descriptor set kept source info. Every operation lists its possible
 * errors as google.rpc.Status; servers, the bearer and X-API-Key schemes are declared. */
json_t *openapi_build(const descset *d, const route_table *t, const char *title, const char *version);

#endif
