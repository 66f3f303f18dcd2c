/* An immutable index over serialized FileDescriptorSets: files, symbols, services and the
 * google.api.http / metro.api.v1.access / idempotency_level method options, for reflection,
 * access checks, REST and retries. */
#ifndef METRO_DESCSET_H
#define METRO_DESCSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "google/api/http.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

/* Extension field numbers read from google.protobuf.MethodOptions' unknown fields. */
#define DESCSET_EXT_HTTP 72295728u   /* google.api.http */
#define DESCSET_EXT_ACCESS 51001u    /* metro.api.v1.access */

typedef struct descset descset;

typedef struct descset_method {
  const char *name;        /* "Login" */
  const char *path;        /* "/metro.auth.v1.AuthService/Login" */
  const char *input_type;  /* "metro.auth.v1.LoginRequest" (no leading dot) */
  const char *output_type;
  bool client_streaming, server_streaming;
  const Google__Api__HttpRule *http; /* NULL when not annotated */
  bool access_public;                /* metro.api.v1.access.public */
  const char *const *roles;          /* metro.api.v1.access.roles */
  int n_roles;
  const char *service;               /* "metro.auth.v1.AuthService" */
  /* google.protobuf.MethodOptions.idempotency_level as declared (IDEMPOTENCY_UNKNOWN when not),
   * and whether it allows a retry: NO_SIDE_EFFECTS or IDEMPOTENT. */
  Google__Protobuf__MethodOptions__IdempotencyLevel idempotency_level;
  bool idempotent;
} descset_method;

typedef struct descset_service {
  const char *full_name;
  const char *file;
  const descset_method *methods;
  int n_methods;
} descset_service;

/* Merges n_sets serialized FileDescriptorSets (a file present in several is kept once, the
 * first wins). The bytes are copied. NULL with a message in err on malformed input. */
descset *descset_load(const uint8_t *const *sets, const size_t *lens, int n_sets, char *err,
                      size_t errlen);
void descset_free(descset *d);

/* Serialized FileDescriptorProto of a file by name ("metro/auth/v1/auth.proto"). */
bool descset_file_bytes(const descset *d, const char *file_name, const uint8_t **data, size_t *len);
/* Every file, in load order (for listing); returns the count. */
int descset_files(const descset *d, const char *const **names);
/* The file defining a fully-qualified symbol (leading dot tolerated): package, message (nested
 * "a.B.C"), field, enum, enum value, service, method ("pkg.Svc.Method"), extension; or NULL. */
const char *descset_file_of_symbol(const descset *d, const char *symbol);
/* The file declaring an extension of `extendee` (full name) with `number`, or NULL. */
const char *descset_file_of_extension(const descset *d, const char *extendee, int32_t number);
/* Direct dependencies of a file; returns the count (-1 for an unknown file). */
int descset_file_deps(const descset *d, const char *file_name, const char *const **deps);

/* All services, in file order; returns the count. */
int descset_services(const descset *d, const descset_service **out);
/* A method by its gRPC path ("/pkg.Svc/Method"), or NULL. */
const descset_method *descset_find_method(const descset *d, const char *path);

/* Messages and enums by full name (leading dot tolerated), or NULL. */
const Google__Protobuf__DescriptorProto *descset_message(const descset *d, const char *full_name);
const Google__Protobuf__EnumDescriptorProto *descset_enum(const descset *d, const char *full_name);

#endif
