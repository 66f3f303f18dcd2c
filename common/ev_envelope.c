/* Event naming and the envelope codec: the topic of an event type, the dead-letter topic,
 * and packing/unpacking metro.events.v1.EventEnvelope with its data as a typed Any. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/ev_internal.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

#define MAX_NAME_LEN 40

static char g_source[MAX_NAME_LEN + 1] = "metro";
static char g_prefix[MAX_NAME_LEN + 1] = "metro";

/* A lowercase name: letters, digits, '_' and '-', starting with a letter. */
static bool name_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > MAX_NAME_LEN || s[0] < 'a' || s[0] > 'z') return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-')) return false;
  return true;
}

bool ev_names_configure(const char *service, const char *prefix) {
  if (!prefix) prefix = "metro";
  if (!name_ok(service) || !name_ok(prefix)) return false;
  snprintf(g_source, sizeof g_source, "%s", service);
  snprintf(g_prefix, sizeof g_prefix, "%s", prefix);
  return true;
}

const char *ev_source(void) { return g_source; }

bool ev_type_valid(const char *type) {
  size_t n = type ? strlen(type) : 0;
  const char *dot = n ? strchr(type, '.') : NULL;
  if (n == 0 || n > EV_MAX_TYPE_LEN || !dot || dot == type || dot[1] == '\0' || type[n - 1] == '.') return false;
  if (type[0] < 'a' || type[0] > 'z') return false;
  for (size_t i = 0; i < n; i++)
    if (!((type[i] >= 'a' && type[i] <= 'z') || (type[i] >= '0' && type[i] <= '9') || type[i] == '_' ||
          type[i] == '.'))
      return false;
  return true;
}

const char *ev_topic_of(arena *a, const char *type) {
  if (!ev_type_valid(type)) return NULL;
  size_t family = (size_t)(strchr(type, '.') - type);
  return arena_printf(a, "%s.%.*s", g_prefix, (int)family, type);
}

const char *ev_dlq_topic(arena *a, const char *topic) { return arena_printf(a, "%s" EV_DLQ_SUFFIX, topic); }

static uint8_t *pack(arena *a, const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = arena_alloc(a, *len ? *len : 1);
  protobuf_c_message_pack(m, buf);
  return buf;
}

uint8_t *ev_envelope_pack(arena *a, const char *event_id, const char *type, const char *subject,
                          const ProtobufCMessage *data, const char *traceparent, size_t *len) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  Google__Protobuf__Timestamp time = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  time.seconds = now.tv_sec;
  time.nanos = (int32_t)(now.tv_nsec / 1000 * 1000); /* microseconds, like PostgreSQL */
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  any.type_url = arena_printf(a, EV_TYPE_URL_PREFIX "%s", data->descriptor->name);
  any.value.data = pack(a, data, &any.value.len);
  Metro__Events__V1__EventEnvelope env = METRO__EVENTS__V1__EVENT_ENVELOPE__INIT;
  env.event_id = (char *)event_id;
  env.type = (char *)type;
  env.source = g_source;
  env.subject = (char *)subject;
  env.time = &time;
  env.traceparent = traceparent ? (char *)traceparent : "";
  env.data = &any;
  return pack(a, &env.base, len);
}

Metro__Events__V1__EventEnvelope *ev_envelope_unpack(arena *a, const uint8_t *buf, size_t len) {
  ProtobufCAllocator alloc = arena_protobuf_allocator(a);
  Metro__Events__V1__EventEnvelope *env = metro__events__v1__event_envelope__unpack(&alloc, len, buf);
  if (!env || !env->event_id || !*env->event_id || !env->type || !*env->type || !env->data || !env->data->type_url)
    return NULL;
  return env;
}

ProtobufCMessage *ev_envelope_data(arena *a, const Metro__Events__V1__EventEnvelope *env,
                                   const ProtobufCMessageDescriptor *type, const char **why) {
  const char *url = env->data ? env->data->type_url : NULL;
  size_t plen = strlen(EV_TYPE_URL_PREFIX);
  if (!url || strncmp(url, EV_TYPE_URL_PREFIX, plen) != 0 || strcmp(url + plen, type->name) != 0) {
    *why = arena_printf(a, "data is %s, expected %s%s", url && *url ? url : "(none)", EV_TYPE_URL_PREFIX, type->name);
    return NULL;
  }
  ProtobufCAllocator alloc = arena_protobuf_allocator(a);
  ProtobufCMessage *m = protobuf_c_message_unpack(type, &alloc, env->data->value.len, env->data->value.data);
  if (!m) *why = arena_printf(a, "data does not decode as %s", type->name);
  return m;
}

int64_t ev_envelope_time_us(const Metro__Events__V1__EventEnvelope *env) {
  if (!env->time) return 0;
  return env->time->seconds * 1000000 + env->time->nanos / 1000;
}
