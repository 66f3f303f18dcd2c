/* AIP-134 update masks: a service's table of updatable proto field names and their bits,
 * matched against a FieldMask's paths ("is_active", "isActive" and "IS_ACTIVE" alike). */
#ifndef METRO_FIELD_MASK_H
#define METRO_FIELD_MASK_H

#include <stdbool.h>

#include "common/arena.h"
#include "common/status.h"
#include "google/protobuf/field_mask.pb-c.h"

/* One row of a mask table, which ends with a NULL name. */
typedef struct fm_path {
  const char *name; /* proto field name, lower snake case */
  unsigned bit;     /* its update bit; 0 = read-only (FIELD_READ_ONLY) */
} fm_path;

/* True when the mask path `given` names the field `name`: underscores are ignored and case
 * folded, so "is_active", "isActive" and "IS_ACTIVE" are equal. With `subpaths`, a path into
 * the field names it too ("location.latitude" names "location"). */
bool fm_path_names(const char *given, const char *name, bool subpaths);

/* ORs into *bits (zeroed first) the bit of each path of `mask` (NULL: none), the first row of
 * `paths` it names winning. An unknown path is INVALID_ARGUMENT on "updateMask" with
 * `unknown_reason` (the path printed only when short and of [A-Za-z0-9_.]); a read-only one
 * is FIELD_READ_ONLY naming the field in lowerCamelCase. */
rpc_status fm_mask_bits(arena *a, const Google__Protobuf__FieldMask *mask, const fm_path *paths, bool subpaths,
                        const char *unknown_reason, unsigned *bits);

#endif
