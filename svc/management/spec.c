/* METRO_MANAGEMENT_SERVICES: which services the registry watches and at which addresses, with
 * the gateway's METRO_BACKENDS syntax ("name=host:port|dns:///host:port,..."). Pure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc/management/management.h"

const char *const MGMT_DEFAULT_SERVICES =
    "auth=127.0.0.1:50051,user=127.0.0.1:50052,transport=127.0.0.1:50053,ticket=127.0.0.1:50054,"
    "public=127.0.0.1:50055,payment=127.0.0.1:50056,webhook=127.0.0.1:50057,notification=127.0.0.1:50058,"
    "report=127.0.0.1:50059,control=127.0.0.1:50060,scheduler=127.0.0.1:50061,management=127.0.0.1:50062";

#define DNS_SCHEME "dns:///"

static bool fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return false;
}

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static bool name_valid(const char *s, size_t n) {
  if (n == 0 || n > MGMT_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (size_t i = 0; i < n; i++)
    if (!is_lower_alnum(s[i]) && s[i] != '-') return false;
  return true;
}

/* A DNS name or IPv4 address: labels of letters, digits and '-', separated by single dots. */
static bool host_valid(const char *s, size_t n) {
  if (n == 0 || n > MGMT_HOST_MAX) return false;
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
    } else if (is_alnum(s[i]) || (s[i] == '-' && label > 0)) {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0 && s[n - 1] != '-';
}

/* The inside of "[...]": hex digits, ':' and '.' (an embedded IPv4), with at least one ':'. */
static bool ipv6_valid(const char *s, size_t n) {
  if (n < 2 || n > 45) return false;
  bool colon = false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ':') colon = true;
    else if (!is_hex(s[i]) && s[i] != '.') return false;
  }
  return colon;
}

bool mgmt_target_split(const char *target, bool *dns, char host[MGMT_HOST_MAX + 1], char port[6]) {
  *dns = strncmp(target, DNS_SCHEME, strlen(DNS_SCHEME)) == 0;
  const char *a = *dns ? target + strlen(DNS_SCHEME) : target;
  const char *colon = strrchr(a, ':');
  if (!colon) return false;
  const char *h = a;
  size_t hn = (size_t)(colon - a);
  if (hn >= 2 && a[0] == '[') {
    if (a[hn - 1] != ']' || !ipv6_valid(a + 1, hn - 2)) return false;
    h = a + 1;
    hn -= 2;
  } else if (!host_valid(a, hn)) {
    return false;
  }
  const char *p = colon + 1;
  size_t pn = strlen(p);
  if (pn == 0 || pn > 5) return false;
  long v = 0;
  for (size_t i = 0; i < pn; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  if (v < 1 || v > 65535) return false;
  memcpy(host, h, hn);
  host[hn] = '\0';
  snprintf(port, 6, "%ld", v);
  return true;
}

/* [s, s+n) without blanks on either side. */
static void trim(const char **s, size_t *n) {
  while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

static mgmt_service_cfg *service_slot(mgmt_services *out, const char *name, size_t n) {
  for (int i = 0; i < out->n; i++)
    if (strlen(out->services[i].name) == n && memcmp(out->services[i].name, name, n) == 0) return &out->services[i];
  if (out->n == MGMT_MAX_SERVICES) return NULL;
  mgmt_service_cfg *s = &out->services[out->n++];
  memset(s, 0, sizeof *s);
  memcpy(s->name, name, n);
  return s;
}

/* One address of entry `idx` added to svc (kept once). */
static bool add_target(mgmt_service_cfg *svc, int idx, const char *a, size_t n, char *err, size_t errlen) {
  if (n == 0) return fail(err, errlen, "entry %d (%s): an empty address", idx, svc->name);
  if (n >= MGMT_TARGET_MAX) return fail(err, errlen, "entry %d (%s): an address longer than %d", idx, svc->name,
                                        MGMT_TARGET_MAX - 1);
  char text[MGMT_TARGET_MAX], host[MGMT_HOST_MAX + 1], port[6];
  memcpy(text, a, n);
  text[n] = '\0';
  bool dns;
  if (strncmp(text, "dns:", 4) == 0 && strncmp(text, DNS_SCHEME, strlen(DNS_SCHEME)) != 0)
    return fail(err, errlen, "entry %d (%s): \"%s\": only dns:///host:port names a DNS name", idx, svc->name, text);
  if (!mgmt_target_split(text, &dns, host, port))
    return fail(err, errlen, "entry %d (%s): \"%s\" is not host:port, [ipv6]:port or dns:///host:port (port 1-65535)",
                idx, svc->name, text);
  for (int i = 0; i < svc->n_targets; i++)
    if (strcmp(svc->targets[i], text) == 0) return true;
  if (svc->n_targets == MGMT_MAX_TARGETS)
    return fail(err, errlen, "entry %d (%s): more than %d addresses", idx, svc->name, MGMT_MAX_TARGETS);
  memcpy(svc->targets[svc->n_targets++], text, n + 1);
  return true;
}

static bool parse_entry(mgmt_services *out, int idx, const char *e, size_t n, char *err, size_t errlen) {
  trim(&e, &n);
  if (n == 0) return fail(err, errlen, "entry %d is empty", idx);
  const char *eq = memchr(e, '=', n);
  if (!eq) return fail(err, errlen, "entry %d (\"%.*s\"): expected name=address[|address...]", idx, (int)n, e);
  const char *name = e;
  size_t name_n = (size_t)(eq - e);
  trim(&name, &name_n);
  if (!name_valid(name, name_n))
    return fail(err, errlen, "entry %d: \"%.*s\" is not a service name ([a-z][a-z0-9-], at most %d)", idx,
                (int)name_n, name, MGMT_NAME_MAX);
  mgmt_service_cfg *svc = service_slot(out, name, name_n);
  if (!svc) return fail(err, errlen, "entry %d: more than %d services", idx, MGMT_MAX_SERVICES);
  const char *p = eq + 1, *end = e + n;
  for (;;) {
    const char *bar = memchr(p, '|', (size_t)(end - p));
    const char *stop = bar ? bar : end;
    const char *a = p;
    size_t an = (size_t)(stop - p);
    trim(&a, &an);
    if (!add_target(svc, idx, a, an, err, errlen)) return false;
    if (!bar) break;
    p = bar + 1;
  }
  return true;
}

bool mgmt_services_parse(const char *spec, mgmt_services *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!spec) return fail(err, errlen, "no services");
  const char *p = spec, *t = spec;
  size_t tn = strlen(spec);
  trim(&t, &tn);
  if (tn == 0) return fail(err, errlen, "no services");
  for (int idx = 1;; idx++) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (!parse_entry(out, idx, p, n, err, errlen)) return false;
    if (!comma) break;
    p = comma + 1;
  }
  return true;
}

const mgmt_service_cfg *mgmt_services_find(const mgmt_services *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->services[i].name, name) == 0) return &s->services[i];
  return NULL;
}
