/* Typed configuration from METRO_* environment variables: each program declares a
 * table of settings; cfg_load validates them all and names every bad value. */
#ifndef METRO_CONFIG_H
#define METRO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { CFG_STRING, CFG_INT, CFG_BOOL, CFG_SECRET } cfg_type;

typedef struct cfg_setting {
  const char *name;        /* environment variable, e.g. "METRO_GRPC_PORT" */
  cfg_type type;
  const char *fallback;    /* default as text; NULL = no default */
  bool required;           /* an unset required setting is an error */
  int64_t min, max;        /* CFG_INT bounds (inclusive) */
  void *target;            /* char ** for STRING/SECRET, int64_t * for INT, bool * for BOOL */
  const char *help;
} cfg_setting;

/* Reads and validates every setting. On errors writes one line per bad value to stderr
 * and returns false. Secrets are never echoed. Strings are owned by the process. */
bool cfg_load(const cfg_setting *settings, int count);

/* Pure parsers used by cfg_load (and unit tests). Return false on bad input. */
bool cfg_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
bool cfg_parse_bool(const char *s, bool *out);

#endif
