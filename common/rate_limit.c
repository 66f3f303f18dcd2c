/* GCRA rate limiting in Redis: one Lua script reads Redis's clock and the key's theoretical
 * arrival time (TAT), decides, and stores the new TAT, so every caller shares one exact limit. */
#include "common/rate_limit.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/redis.h"

#define RULE_NAME_MAX 64
#define KEY_MAX 128               /* longer keys are hashed */
#define WARN_INTERVAL_MS 10000
#define SHA1_HEX 40

/* KEYS[1] the limiter; ARGV emission interval T (ms, fractional), tolerance tau = T * burst
 * (ms) and cost. The TAT is stored in ms (to the microsecond) and expires when it has passed,
 * which is when a missing key means the same thing. Answers {allowed, remaining, reset ms,
 * retry-after ms}. Redis >= 5 replicates a script by its effects, so TIME is allowed here. */
static const char gcra_script[] =
    "local T = tonumber(ARGV[1])\n"
    "local tau = tonumber(ARGV[2])\n"
    "local cost = tonumber(ARGV[3])\n"
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]))\n"
    "if not tat or tat < now then tat = now end\n"
    "local new_tat = tat + T * cost\n"
    "local allow_at = new_tat - tau\n"
    "if allow_at > now then\n"
    "  local left = math.floor((tau - (tat - now)) / T + 1e-6)\n"
    "  if left < 0 then left = 0 end\n"
    "  return {0, left, math.ceil(tat - now), math.ceil(allow_at - now)}\n"
    "end\n"
    "local ttl = math.ceil(new_tat - now)\n"
    "redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', ttl)\n"
    "return {1, math.floor((tau - (new_tat - now)) / T + 1e-6), ttl, 0}\n";

/* The script's SHA1 as SCRIPT LOAD answered, and the connection it was loaded on. */
static _Thread_local char t_sha[SHA1_HEX + 1];
static _Thread_local unsigned long t_loaded_on;

static atomic_llong next_warn_ms;

/* Allows the request uncounted, with one warning per WARN_INTERVAL_MS across all threads. */
static void fail_open(const rate_limit_rule *rule, const char *why, rate_limit_result *out) {
  out->allowed = true;
  out->failed_open = true;
  long long now = clock_mono_ms(), next = atomic_load(&next_warn_ms);
  if (now >= next && atomic_compare_exchange_strong(&next_warn_ms, &next, now + WARN_INTERVAL_MS))
    log_warn("rate limit %s not enforced, allowing requests: %s", rule && rule->name ? rule->name : "(unnamed)", why);
}

static bool rule_ok(const rate_limit_rule *rule) {
  /* At most one request a microsecond: the TAT is kept to the microsecond. */
  if (!rule || !rule->name || rule->limit < 1 || rule->period_ms < 1 ||
      (double)rule->limit > (double)rule->period_ms * 1000.0)
    return false;
  size_t n = strnlen(rule->name, RULE_NAME_MAX + 1);
  if (n == 0 || n > RULE_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = rule->name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  }
  return true;
}

/* "metro:rl:<rule>:<key>"; a key over KEY_MAX bytes, or one starting with '#', becomes
 * "#<sha256 hex>", so a hashed key never meets a literal one. */
static const char *redis_key(arena *a, const char *rule, const char *key) {
  size_t n = strlen(key);
  if (n <= KEY_MAX && key[0] != '#') return arena_printf(a, "metro:rl:%s:%s", rule, key);
  char hex[2 * CRYPTO_SHA256_LEN + 1];
  crypto_sha256_hex(key, n, hex);
  return arena_printf(a, "metro:rl:%s:#%s", rule, hex);
}

/* SCRIPT LOAD on this thread's connection unless it is already there. False when Redis
 * cannot be reached. */
static bool ensure_loaded(arena *a) {
  unsigned long serial = redis_connection_serial();
  if (serial != 0 && serial == t_loaded_on) return true;
  redisReply *r = redis_command(a, "SCRIPT LOAD %s", gcra_script);
  if (!r) return false;
  if (r->type == REDIS_REPLY_STRING && r->len == SHA1_HEX) {
    memcpy(t_sha, r->str, SHA1_HEX + 1);
    t_loaded_on = redis_connection_serial();
  }
  return true;
}

static bool is_noscript(const redisReply *r) {
  return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

void rate_limit_check(arena *a, const rate_limit_rule *rule, const char *key, int64_t cost, rate_limit_result *out) {
  memset(out, 0, sizeof *out);
  if (!rule_ok(rule)) {
    fail_open(rule, "invalid rule", out);
    return;
  }
  out->limit = rule->limit;
  int64_t burst = rule->burst > 0 ? rule->burst : rule->limit;
  if (cost < 1) cost = 1;
  double interval = (double)rule->period_ms / (double)rule->limit;
  const char *k = redis_key(a, rule->name, key && *key ? key : "-");
  const char *t = arena_printf(a, "%.17g", interval);
  const char *tau = arena_printf(a, "%.17g", interval * (double)burst);
  const char *c = arena_printf(a, "%lld", (long long)cost);

  if (!ensure_loaded(a)) {
    fail_open(rule, "redis is unreachable", out);
    return;
  }
  redisReply *r = t_sha[0] ? redis_command(a, "EVALSHA %s 1 %s %s %s %s", t_sha, k, t, tau, c) : NULL;
  if (!t_sha[0] || is_noscript(r)) { /* not loaded, or forgotten (SCRIPT FLUSH, a reconnect in between) */
    t_loaded_on = 0;
    r = redis_command(a, "EVAL %s 1 %s %s %s %s", gcra_script, k, t, tau, c);
  }
  if (!r) {
    fail_open(rule, "redis is unreachable", out);
    return;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    fail_open(rule, arena_printf(a, "redis answered: %.200s", r->str), out);
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
    fail_open(rule, "unexpected reply from the rate-limit script", out);
    return;
  }
  for (size_t i = 0; i < 4; i++)
    if (r->element[i]->type != REDIS_REPLY_INTEGER) {
      fail_open(rule, "unexpected reply from the rate-limit script", out);
      return;
    }
  out->allowed = r->element[0]->integer == 1;
  out->remaining = r->element[1]->integer > 0 ? r->element[1]->integer : 0;
  out->reset_ms = r->element[2]->integer > 0 ? r->element[2]->integer : 0;
  out->retry_after_ms = out->allowed ? 0 : (r->element[3]->integer > 0 ? r->element[3]->integer : 1);
}
