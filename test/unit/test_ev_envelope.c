/* Unit tests of common/ev_envelope.c: the topic of an event type, the dead-letter topic,
 * and the EventEnvelope round trip with its data packed as a typed Any. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/ev_internal.h"
#include "metro/events/v1/identity_events.pb-c.h"

static int reset_names(void **state) {
  (void)state;
  ev_names_configure("metro", NULL);
  return 0;
}

static void test_topic_is_the_prefix_and_the_family_before_the_first_dot(void **state) {
  (void)state;
  arena *a = arena_create(256);
  assert_string_equal(ev_topic_of(a, "user.created"), "metro.user");
  assert_string_equal(ev_topic_of(a, "auth.password_reset_requested"), "metro.auth");
  assert_string_equal(ev_topic_of(a, "ticket.fare.adjusted"), "metro.ticket");
  arena_destroy(a);
}

static void test_topic_uses_the_configured_prefix(void **state) {
  (void)state;
  arena *a = arena_create(256);
  assert_true(ev_names_configure("auth", "hcmc"));
  assert_string_equal(ev_topic_of(a, "user.created"), "hcmc.user");
  assert_string_equal(ev_source(), "auth");
  arena_destroy(a);
}

static void test_types_without_a_family_have_no_topic(void **state) {
  (void)state;
  arena *a = arena_create(256);
  const char *bad[] = {"", "user", ".created", "user.", "User.created", "user created", "user.cr\xc3\xa9\x65", "9.x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_null(ev_topic_of(a, bad[i]));
  assert_null(ev_topic_of(a, NULL));
  char long_type[EV_MAX_TYPE_LEN + 2];
  memset(long_type, 'a', sizeof long_type - 1);
  long_type[sizeof long_type - 1] = '\0';
  long_type[4] = '.';
  assert_null(ev_topic_of(a, long_type));
  arena_destroy(a);
}

static void test_bad_service_or_prefix_names_are_refused(void **state) {
  (void)state;
  assert_false(ev_names_configure("", NULL));
  assert_false(ev_names_configure(NULL, NULL));
  assert_false(ev_names_configure("auth", "Metro"));
  assert_false(ev_names_configure("auth service", NULL));
  assert_string_equal(ev_source(), "metro"); /* unchanged by refused calls */
}

static void test_dead_letter_topic_appends_dlq(void **state) {
  (void)state;
  arena *a = arena_create(256);
  assert_string_equal(ev_dlq_topic(a, "metro.user"), "metro.user.dlq");
  arena_destroy(a);
}

static const uint8_t *sample(arena *a, const char *traceparent, size_t *len) {
  Metro__Events__V1__UserCreated e = METRO__EVENTS__V1__USER_CREATED__INIT;
  char *roles[2] = {"passenger", "staff"};
  e.user_id = "0b5e8d3c-1f0a-4c1e-9a55-3c2b1a0d9e8f";
  e.email = "lan@example.com";
  e.roles = roles;
  e.n_roles = 2;
  e.is_verified = true;
  return ev_envelope_pack(a, "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e", "user.created", e.user_id, &e.base, traceparent,
                          len);
}

static void test_envelope_round_trips_every_field(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  assert_true(ev_names_configure("auth", NULL));
  size_t len;
  time_t before = time(NULL);
  const uint8_t *buf = sample(a, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &len);
  Metro__Events__V1__EventEnvelope *env = ev_envelope_unpack(a, buf, len);
  assert_non_null(env);
  assert_string_equal(env->event_id, "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e");
  assert_string_equal(env->type, "user.created");
  assert_string_equal(env->source, "auth");
  assert_string_equal(env->subject, "0b5e8d3c-1f0a-4c1e-9a55-3c2b1a0d9e8f");
  assert_string_equal(env->traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  assert_string_equal(env->data->type_url, "type.googleapis.com/metro.events.v1.UserCreated");
  int64_t t = ev_envelope_time_us(env);
  /* time() may read the kernel's coarse clock, a few ms behind the envelope's fine one: a
   * second of slack either way. */
  assert_true(t / 1000000 >= before - 1 && t / 1000000 <= time(NULL) + 1);
  const char *why = NULL;
  const Metro__Events__V1__UserCreated *data =
      (const void *)ev_envelope_data(a, env, &metro__events__v1__user_created__descriptor, &why);
  assert_non_null(data);
  assert_string_equal(data->email, "lan@example.com");
  assert_int_equal(data->n_roles, 2);
  assert_string_equal(data->roles[1], "staff");
  assert_true(data->is_verified);
  arena_destroy(a);
}

static void test_envelope_without_traceparent_carries_an_empty_one(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  size_t len;
  const uint8_t *buf = sample(a, NULL, &len);
  Metro__Events__V1__EventEnvelope *env = ev_envelope_unpack(a, buf, len);
  assert_non_null(env);
  assert_string_equal(env->traceparent, "");
  arena_destroy(a);
}

static void test_data_of_another_type_is_refused_with_a_reason(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  size_t len;
  const uint8_t *buf = sample(a, NULL, &len);
  Metro__Events__V1__EventEnvelope *env = ev_envelope_unpack(a, buf, len);
  const char *why = NULL;
  assert_null(ev_envelope_data(a, env, &metro__events__v1__user_login__descriptor, &why));
  assert_non_null(strstr(why, "metro.events.v1.UserLogin"));
  assert_non_null(strstr(why, "metro.events.v1.UserCreated"));
  arena_destroy(a);
}

static void test_undecodable_data_bytes_are_refused(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  size_t len;
  const uint8_t *buf = sample(a, NULL, &len);
  Metro__Events__V1__EventEnvelope *env = ev_envelope_unpack(a, buf, len);
  static uint8_t junk[] = {0x0a, 0xff, 0x01}; /* field 1, length 255, one byte present */
  env->data->value.data = junk;
  env->data->value.len = sizeof junk;
  const char *why = NULL;
  assert_null(ev_envelope_data(a, env, &metro__events__v1__user_created__descriptor, &why));
  assert_non_null(strstr(why, "does not decode"));
  arena_destroy(a);
}

static void test_garbage_and_incomplete_envelopes_are_refused(void **state) {
  (void)state;
  arena *a = arena_create(1024);
  static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
  assert_null(ev_envelope_unpack(a, garbage, sizeof garbage));
  assert_null(ev_envelope_unpack(a, (const uint8_t *)"", 0)); /* decodes, but has no id, type or data */
  size_t len;
  const uint8_t *buf = sample(a, NULL, &len);
  assert_null(ev_envelope_unpack(a, buf, len - 3)); /* truncated */
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_topic_is_the_prefix_and_the_family_before_the_first_dot, reset_names),
      cmocka_unit_test_teardown(test_topic_uses_the_configured_prefix, reset_names),
      cmocka_unit_test_teardown(test_types_without_a_family_have_no_topic, reset_names),
      cmocka_unit_test_teardown(test_bad_service_or_prefix_names_are_refused, reset_names),
      cmocka_unit_test_teardown(test_dead_letter_topic_appends_dlq, reset_names),
      cmocka_unit_test_teardown(test_envelope_round_trips_every_field, reset_names),
      cmocka_unit_test_teardown(test_envelope_without_traceparent_carries_an_empty_one, reset_names),
      cmocka_unit_test_teardown(test_data_of_another_type_is_refused_with_a_reason, reset_names),
      cmocka_unit_test_teardown(test_undecodable_data_bytes_are_refused, reset_names),
      cmocka_unit_test_teardown(test_garbage_and_incomplete_envelopes_are_refused, reset_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
