/* OpenAPI 3.0 document of the REST surface, generated from the same google.api.http and
 * metro.api.v1.access annotations the route table uses, with proto3-JSON schemas. */
#ifndef METRO_OPENAPI_H
#define METRO_OPENAPI_H

#include <jansson.h>

#include "common/descset.h"
#include "transcoder/routes.h"

/* A new reference the caller must json_decref; NULL only on allocation failure. Paths use the
 * JSON names of the bound fields ("/v1/auth/users/{userId}"), a multi-segment variable becomes
 * one parameter with a pattern ("/v1/{name}" with "stations/[^/]+"); operationId is
 * "Service_Method", suffixed with 2, 3... for additional bindings. */
json_t *openapi_build(const descset *d, const route_table *t, const char *title, const char *version);

#endif
