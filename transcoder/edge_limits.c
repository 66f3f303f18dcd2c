/* The gateway's rate-limit table (see edge_limits.h). Reads are not limited here: read floods
 * are cut per address at the nginx edge in memory; these rows guard logins, writes and API
 * keys, where one shared exact count across gateway replicas matters. */
#include "transcoder/edge_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS 60000

static edge_limit table[] = {
    /* Password guessing and sign-up floods, per client address. */
    {"auth-ip", "POST", "/v1/auth/", LIMIT_BY_IP, {"auth-ip", 30, MINUTE_MS, 10}},
    /* Writes per signed-in user. */
    {"writes-user", "POST,PUT,PATCH,DELETE", "/v1/", LIMIT_BY_USER, {"writes-user", 300, MINUTE_MS, 60}},
    /* Writes per address, signed in or not (webhooks come from providers' few addresses). */
    {"writes-ip", "POST,PUT,PATCH,DELETE", "/v1/", LIMIT_BY_IP, {"writes-ip", 1200, MINUTE_MS, 200}},
};
#define N_LIMITS ((int)(sizeof table / sizeof table[0]))

static bool disabled[N_LIMITS];

static bool parse_period(const char *s, int64_t *ms) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (end == s || v <= 0) return false;
  if (strcmp(end, "s") == 0) *ms = v * 1000;
  else if (strcmp(end, "ms") == 0) *ms = v;
  else if (strcmp(end, "m") == 0) *ms = v * MINUTE_MS;
  else return false;
  return *ms <= 24LL * 3600 * 1000;
}

bool edge_limits_configure(const char *spec, char *err, size_t errlen) {
  char *copy = strdup(spec ? spec : "");
  char *save = NULL;
  bool ok = true;
  for (char *item = strtok_r(copy, ",", &save); item && ok; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    int row = -1;
    if (eq) {
      *eq = '\0';
      for (int i = 0; i < N_LIMITS; i++)
        if (strcmp(table[i].name, item) == 0) row = i;
    }
    if (row < 0) {
      snprintf(err, errlen, "METRO_RATE_LIMITS: unknown limit \"%s\"", item);
      ok = false;
      break;
    }
    const char *value = eq + 1;
    if (strcmp(value, "off") == 0) {
      disabled[row] = true;
      continue;
    }
    char limit_s[32] = "", period_s[32] = "", burst_s[32] = "";
    int n = sscanf(value, "%31[0-9]/%31[0-9a-z]/%31[0-9]", limit_s, period_s, burst_s);
    int64_t period;
    long long limit = atoll(limit_s), burst = n == 3 ? atoll(burst_s) : atoll(limit_s);
    if (n < 2 || limit <= 0 || limit > 100000000 || burst <= 0 || burst > 100000000 || !parse_period(period_s, &period)) {
      snprintf(err, errlen, "METRO_RATE_LIMITS: %s: expected limit/period[/burst] like 60/60s/20, got \"%s\"",
               table[row].name, value);
      ok = false;
      break;
    }
    table[row].rule.limit = limit;
    table[row].rule.period_ms = period;
    table[row].rule.burst = burst;
    disabled[row] = false;
  }
  free(copy);
  return ok;
}

static bool method_listed(const char *methods, const char *method) {
  if (strcmp(methods, "*") == 0) return true;
  size_t n = strlen(method);
  for (const char *p = methods; *p;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == n && strncmp(p, method, n) == 0) return true;
    if (!comma) break;
    p = comma + 1;
  }
  return false;
}

/* Keeps the refusal, else the result closest to refusing. */
static void merge(rate_limit_result *out, bool *limited, const rate_limit_result *r) {
  if (!*limited || (out->allowed && (!r->allowed || r->remaining < out->remaining))) *out = *r;
  *limited = true;
}

void edge_limits_check(arena *a, const char *method, const char *path, const edge_subject *who,
                       rate_limit_result *out, bool *limited) {
  *limited = false;
  memset(out, 0, sizeof *out);
  out->allowed = true;
  for (int i = 0; i < N_LIMITS && out->allowed; i++) {
    const edge_limit *l = &table[i];
    if (disabled[i] || !method_listed(l->methods, method) || strncmp(path, l->path_prefix, strlen(l->path_prefix)) != 0)
      continue;
    const char *key = l->subject == LIMIT_BY_IP ? who->ip : l->subject == LIMIT_BY_USER ? who->user_id : who->api_key_id;
    if (!key || !*key) continue;
    rate_limit_result r;
    rate_limit_check(a, &l->rule, key, 1, &r);
    merge(out, limited, &r);
  }
  if (out->allowed && who->api_key_id && who->api_key_per_minute > 0) {
    /* Each key's own rate, with a burst of a tenth of a minute's allowance. */
    int64_t burst = who->api_key_per_minute / 10 > 0 ? who->api_key_per_minute / 10 : 1;
    rate_limit_rule rule = {"api-key", who->api_key_per_minute, MINUTE_MS, burst};
    rate_limit_result r;
    rate_limit_check(a, &rule, who->api_key_id, 1, &r);
    merge(out, limited, &r);
  }
}
