/* What the event modules share among themselves (ev_core, ev_envelope, ev_outbox,
 * ev_consumer) and with test programs: the open backend, naming and the envelope codec. */
#ifndef METRO_EV_INTERNAL_H
#define METRO_EV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/ev_backend.h"
#include "common/events.h"

#define EV_TYPE_URL_PREFIX "type.googleapis.com/"
#define EV_MAX_TYPE_LEN 100
#define EV_DLQ_SUFFIX ".dlq"

/* Advisory lock classes (first key of pg_advisory_lock(int, int)); the second key is
 * hashtext() of the schema or group. Two-key locks never collide with pg.c's one-key ones. */
enum { EV_LOCK_RELAY = 730301, EV_LOCK_GROUP = 730302, EV_LOCK_LOG_WRITE = 730303 };

/* The backend ev_init opened, or NULL before ev_init / after ev_shutdown. */
ev_backend *ev_backend_current(void);

/* Sets the envelope source and topic prefix (ev_init does it). NULL prefix = "metro".
 * False when either is not a lowercase name. */
bool ev_names_configure(const char *service, const char *prefix);
const char *ev_source(void);
/* True for "family.name" types: lowercase letters, digits, '_' and dots, a family before
 * the first dot, at most EV_MAX_TYPE_LEN characters. */
bool ev_type_valid(const char *type);
/* "<topic>.dlq" */
const char *ev_dlq_topic(arena *a, const char *topic);

/* Packs an EventEnvelope {event_id, type, source = ev_source(), subject, time = now,
 * traceparent, data = Any(type.googleapis.com/<full name>, packed data)} into arena memory. */
uint8_t *ev_envelope_pack(arena *a, const char *event_id, const char *type, const char *subject,
                          const ProtobufCMessage *data, const char *traceparent, size_t *len);
/* Unpacks an envelope into the arena; NULL when the bytes are not one or it lacks an
 * event id, a type or data. */
Metro__Events__V1__EventEnvelope *ev_envelope_unpack(arena *a, const uint8_t *buf, size_t len);
/* Unpacks the envelope's data as `type`; NULL (with the reason in *why) when the type URL
 * names another message or the bytes do not decode. */
ProtobufCMessage *ev_envelope_data(arena *a, const Metro__Events__V1__EventEnvelope *env,
                                   const ProtobufCMessageDescriptor *type, const char **why);
/* The envelope time in microseconds since the epoch (0 when absent). */
int64_t ev_envelope_time_us(const Metro__Events__V1__EventEnvelope *env);

#endif
