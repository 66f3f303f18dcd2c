/* AIP-134 update masks shared by the services: FieldMask paths matched against a table of
 * proto field names, with the INVALID_ARGUMENT answers for unknown and read-only paths. */
#include <string.h>

#include "common/field_mask.h"
#include "common/text.h"

#define MAX_PRINTED_PATH 64
#define PATH_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."

bool fm_path_names(const char *given, const char *name, bool subpaths) {
  const char *g = given;
  for (const char *n = name; *n; n++) {
    if (*n == '_') continue;
    while (*g == '_') g++;
    char c = *g >= 'A' && *g <= 'Z' ? (char)(*g - 'A' + 'a') : *g;
    if (c != *n) return false;
    g++;
  }
  return *g == '\0' || (subpaths && *g == '.');
}

/* "promotion_id" -> "promotionId", the name the JSON mapping and error fields use. */
static char *camel(arena *a, const char *name) {
  char *out = arena_strdup(a, name), *o = out;
  for (const char *n = name; *n; n++) {
    if (*n == '_' && n[1] >= 'a' && n[1] <= 'z' && o != out) {
      *o++ = (char)(*++n - 'a' + 'A');
    } else if (*n != '_') {
      *o++ = *n;
    }
  }
  *o = '\0';
  return out;
}

rpc_status fm_mask_bits(arena *a, const Google__Protobuf__FieldMask *mask, const fm_path *paths, bool subpaths,
                        const char *unknown_reason, unsigned *bits) {
  *bits = 0;
  for (size_t i = 0; mask && i < mask->n_paths; i++) {
    const char *given = mask->paths[i] ? mask->paths[i] : "";
    const fm_path *p = paths;
    while (p->name && !fm_path_names(given, p->name, subpaths)) p++;
    if (!p->name) {
      bool printable = strlen(given) <= MAX_PRINTED_PATH && text_only_chars(given, PATH_CHARS);
      return rpc_invalid(a, "updateMask", unknown_reason, "updateMask: \"%s\" cannot be updated",
                         printable ? given : "?");
    }
    if (!p->bit)
      return rpc_invalid(a, "updateMask", "FIELD_READ_ONLY", "updateMask: %s is read-only", camel(a, p->name));
    *bits |= p->bit;
  }
  return RPC_OK;
}
