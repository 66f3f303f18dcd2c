/* Typed configuration from METRO_* environment variables: parses each row of a program's
 * settings table and reports every bad or missing value on its own stderr line. */
#include "common/config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CFG_SHOWN_VALUE_MAX = 80 }; /* bytes of a bad value echoed back */

/* Strings handed out by cfg_load live until exit; keeping them on a list keeps them
 * reachable, so leak checkers do not flag configuration read once at start-up. */
typedef struct cfg_owned {
  struct cfg_owned *next;
  char text[];
} cfg_owned;
static cfg_owned *g_owned;
static pthread_mutex_t g_owned_lock = PTHREAD_MUTEX_INITIALIZER;

static char *cfg_keep(const char *s) {
  size_t n = strlen(s);
  cfg_owned *o = malloc(sizeof *o + n + 1);
  if (!o) return NULL;
  memcpy(o->text, s, n + 1);
  pthread_mutex_lock(&g_owned_lock);
  o->next = g_owned;
  g_owned = o;
  pthread_mutex_unlock(&g_owned_lock);
  return o->text;
}

bool cfg_parse_int(const char *s, int64_t min, int64_t max, int64_t *out) {
  if (!s || !*s) return false;
  /* strtoll would skip leading blanks; a value is digits with an optional sign only. */
  const char *digits = (*s == '+' || *s == '-') ? s + 1 : s;
  if (*digits < '0' || *digits > '9') return false;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE || *end != '\0') return false;
  if (v < min || v > max) return false;
  *out = (int64_t)v;
  return true;
}

bool cfg_parse_bool(const char *s, bool *out) {
  static const struct { const char *text; bool value; } forms[] = {
      {"true", true}, {"false", false}, {"1", true}, {"0", false}, {"yes", true}, {"no", false},
  };
  if (!s) return false;
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    if (strcasecmp(s, forms[i].text) == 0) {
      *out = forms[i].value;
      return true;
    }
  }
  return false;
}

/* Describes the accepted form of a setting, e.g. "an integer from 1 to 65535". */
static void cfg_describe(const cfg_setting *s, char *out, size_t cap) {
  switch (s->type) {
  case CFG_INT:
    snprintf(out, cap, "an integer from %" PRId64 " to %" PRId64, s->min, s->max);
    break;
  case CFG_BOOL:
    snprintf(out, cap, "a boolean (true/false, yes/no or 1/0)");
    break;
  case CFG_SECRET:
    snprintf(out, cap, "a non-empty secret");
    break;
  case CFG_STRING:
  default:
    snprintf(out, cap, "a non-empty string");
    break;
  }
}

/* Copies a bad value for display: bounded, with control and non-ASCII bytes as \xNN. */
static void cfg_show_value(const char *v, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; v[i] && o + 5 < cap; i++) {
    unsigned char c = (unsigned char)v[i];
    if (i >= CFG_SHOWN_VALUE_MAX) {
      o += (size_t)snprintf(out + o, cap - o, "...");
      break;
    }
    if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\')
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    else
      out[o++] = (char)c;
  }
  out[o < cap ? o : cap - 1] = '\0';
}

static void cfg_report(const cfg_setting *s, const char *problem, const char *value) {
  char form[96];
  cfg_describe(s, form, sizeof form);
  const char *help_open = s->help ? " (" : "", *help = s->help ? s->help : "", *help_close = s->help ? ")" : "";
  if (!value) {
    fprintf(stderr, "config: %s %s: expected %s%s%s%s\n", s->name, problem, form, help_open, help, help_close);
  } else if (s->type == CFG_SECRET) {
    fprintf(stderr, "config: %s %s: expected %s (value not shown)%s%s%s\n", s->name, problem, form, help_open,
            help, help_close);
  } else {
    char shown[CFG_SHOWN_VALUE_MAX * 4 + 8];
    cfg_show_value(value, shown, sizeof shown);
    fprintf(stderr, "config: %s %s: expected %s, got \"%s\"%s%s%s\n", s->name, problem, form, shown, help_open,
            help, help_close);
  }
}

/* Parses text into the setting's target; false when the text is not of the right form. */
static bool cfg_assign(const cfg_setting *s, const char *text) {
  switch (s->type) {
  case CFG_INT: {
    int64_t v;
    if (!cfg_parse_int(text, s->min, s->max, &v)) return false;
    if (s->target) *(int64_t *)s->target = v;
    return true;
  }
  case CFG_BOOL: {
    bool v;
    if (!cfg_parse_bool(text, &v)) return false;
    if (s->target) *(bool *)s->target = v;
    return true;
  }
  case CFG_STRING:
  case CFG_SECRET:
  default: {
    char *copy = cfg_keep(text);
    if (!copy) return false;
    if (s->target) *(char **)s->target = copy;
    return true;
  }
  }
}

/* An empty variable counts as unset, as with "METRO_X=" in an env file. An unset optional
 * setting without a default sets string targets to NULL and leaves INT/BOOL targets as they are. */
static bool cfg_load_one(const cfg_setting *s) {
  if (!s->name) return false;
  const char *value = getenv(s->name);
  if (value && *value) {
    if (cfg_assign(s, value)) return true;
    cfg_report(s, "is invalid", value);
    return false;
  }
  if (s->fallback) {
    if (cfg_assign(s, s->fallback)) return true;
    cfg_report(s, "has an invalid default", s->fallback);
    return false;
  }
  if (s->required) {
    cfg_report(s, "is required but not set", NULL);
    return false;
  }
  if ((s->type == CFG_STRING || s->type == CFG_SECRET) && s->target) *(char **)s->target = NULL;
  return true;
}

bool cfg_load(const cfg_setting *settings, int count) {
  bool ok = true;
  for (int i = 0; i < count; i++)
    if (!cfg_load_one(&settings[i])) ok = false;
  return ok;
}
