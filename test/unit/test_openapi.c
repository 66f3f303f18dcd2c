/* Unit tests of transcoder/openapi beyond the route-shaped ones in test_routes.c: prose from the
 * protos' comments (summaries, descriptions, tags), servers, security schemes, error responses,
 * and one parameter name per path, on a hand-built descriptor set and on the real ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/descset.h"
#include "transcoder/openapi.h"
#include "transcoder/routes.h"

extern const unsigned char metro_descriptor_set[];
extern const size_t metro_descriptor_set_len;
extern const unsigned char metro_testing_descriptor_set[];
extern const size_t metro_testing_descriptor_set_len;

#define REF_STATUS "#/components/schemas/google.rpc.Status"

typedef struct fixture {
  descset *d;
  route_table *t;
  json_t *doc;
} fixture;

static int setup_bytes(void **state, const uint8_t *set, size_t len) {
  fixture *f = calloc(1, sizeof(*f));
  char err[512] = "";
  f->d = descset_load(&set, &len, 1, err, sizeof err);
  if (!f->d) fail_msg("descset_load: %s", err);
  f->t = route_table_build(f->d, err, sizeof err);
  if (!f->t) fail_msg("route_table_build: %s", err);
  f->doc = openapi_build(f->d, f->t, "Metro", "v1");
  assert_non_null(f->doc);
  *state = f;
  return 0;
}

static int setup_metro(void **state) { return setup_bytes(state, metro_descriptor_set, metro_descriptor_set_len); }

static int setup_testing(void **state) {
  return setup_bytes(state, metro_testing_descriptor_set, metro_testing_descriptor_set_len);
}

static int teardown(void **state) {
  fixture *f = *state;
  json_decref(f->doc);
  route_table_free(f->t);
  descset_free(f->d);
  free(f);
  return 0;
}

/* ---- a commented descriptor set built in the test ---- */

/* package t.v1 in "t/v1/things.proto":
 *   enum Shade { SHADE_UNSPECIFIED, SHADE_DARK }
 *   message Thing { string thing_id = 1; string label = 2; Shade shade = 3; }
 *   message GetThingRequest { string thing_id = 1; string view = 2; }
 *   message UpdateThingRequest { Thing thing = 1; string note = 2; }
 *   service Things { the methods of `methods` below } */
typedef struct method_spec {
  const char *name, *verb, *path, *body, *input;
  bool public_;
} method_spec;

/* UpdateThing comes first: its nested {thing.thing_id} must still yield to GetThing's {thing_id}. */
static const method_spec methods[] = {
    {"UpdateThing", "PATCH", "/v1/things/{thing.thing_id}", "thing", ".t.v1.UpdateThingRequest", false},
    {"GetThing", "GET", "/v1/things/{thing_id}", "", ".t.v1.GetThingRequest", true},
    {"RenameThing", "POST", "/v1/boxes/{thing.label}", "*", ".t.v1.UpdateThingRequest", false},
    {"MoveThing", "PUT", "/v1/boxes/{thing.thing_id}", "*", ".t.v1.UpdateThingRequest", false},
    {"ExportThing", "GET", "/v1/things/{thing_id}.csv", "", ".t.v1.GetThingRequest", false},
    {"ListThings", "GET", "/v1/things", "", ".t.v1.GetThingRequest", true},
};
#define N_METHODS ((int)(sizeof methods / sizeof methods[0]))

typedef struct comment_spec {
  int32_t path[4];
  size_t n_path;
  const char *leading, *trailing;
} comment_spec;

static const comment_spec comments[] = {
    {{12}, 1, " Things contract: what the tests know of things.\n", NULL},
    {{6, 0}, 2, " Keeps things.\n", NULL},
    {{6, 0, 2, 1}, 4, " Gets a thing (e.g. a box; or a crate. Or not).\n Fails with NOT_FOUND.\n\n Second paragraph.\n",
     NULL},
    {{6, 0, 2, 3}, 4, " Moves a thing. Its label stays.\n", NULL},
    {{6, 0, 2, 4}, 4, " Export as CSV\n\n One row per field.\n", NULL},
    {{6, 0, 2, 5}, 4, " Every thing, i.e. all of them!\n", NULL},
    {{4, 0}, 2, " A thing. It has a label.\n", NULL},
    {{4, 0, 2, 1}, 4, NULL, " Free text, e.g. \"box\".\n"},
    {{4, 0, 2, 2}, 4, " How it looks.\n", NULL},
    {{4, 1, 2, 1}, 4, " Which fields to answer.\n", NULL},
    {{5, 0}, 2, " How dark.\n", NULL},
    {{5, 0, 2, 1}, 4, " Very dark.\n", NULL},
};
#define N_COMMENTS ((int)(sizeof comments / sizeof comments[0]))

typedef struct field_spec {
  const char *name;
  Google__Protobuf__FieldDescriptorProto__Type type;
  const char *type_name;
} field_spec;

#define STRING_FIELD(n) {n, GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING, NULL}

static const field_spec thing_fields[] = {
    STRING_FIELD("thing_id"), STRING_FIELD("label"),
    {"shade", GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM, ".t.v1.Shade"}};
static const field_spec get_fields[] = {STRING_FIELD("thing_id"), STRING_FIELD("view")};
static const field_spec update_fields[] = {
    {"thing", GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE, ".t.v1.Thing"}, STRING_FIELD("note")};

typedef struct message_spec {
  const char *name;
  const field_spec *fields;
  int n_fields;
} message_spec;

static const message_spec messages[] = {
    {"Thing", thing_fields, 3}, {"GetThingRequest", get_fields, 2}, {"UpdateThingRequest", update_fields, 2}};
#define N_MESSAGES 3
#define MAX_FIELDS 3

/* Everything the packed set points at, kept together until it is packed. */
typedef struct set_parts {
  Google__Protobuf__FieldDescriptorProto fields[N_MESSAGES][MAX_FIELDS];
  Google__Protobuf__FieldDescriptorProto *field_ptrs[N_MESSAGES][MAX_FIELDS];
  Google__Protobuf__DescriptorProto msgs[N_MESSAGES];
  Google__Protobuf__DescriptorProto *msg_ptrs[N_MESSAGES];
  Google__Protobuf__EnumValueDescriptorProto values[2];
  Google__Protobuf__EnumValueDescriptorProto *value_ptrs[2];
  Google__Protobuf__EnumDescriptorProto shade;
  Google__Protobuf__EnumDescriptorProto *shade_ptr;
  Google__Protobuf__MethodDescriptorProto methods[N_METHODS];
  Google__Protobuf__MethodDescriptorProto *method_ptrs[N_METHODS];
  Google__Protobuf__MethodOptions options[N_METHODS];
  ProtobufCMessageUnknownField unknown[N_METHODS][2];
  uint8_t http[N_METHODS][128];
  Google__Protobuf__ServiceDescriptorProto svc;
  Google__Protobuf__ServiceDescriptorProto *svc_ptr;
  Google__Protobuf__SourceCodeInfo__Location locations[N_COMMENTS];
  Google__Protobuf__SourceCodeInfo__Location *location_ptrs[N_COMMENTS];
  Google__Protobuf__SourceCodeInfo info;
  Google__Protobuf__FileDescriptorProto file;
  Google__Protobuf__FileDescriptorProto *file_ptr;
} set_parts;

/* metro.api.v1.access = {public: true}, length-prefixed as protobuf-c keeps an unknown field. */
static uint8_t public_access[] = {2, 0x08, 0x01};

static void set_rule(Google__Api__HttpRule *rule, const method_spec *m) {
  char *p = (char *)m->path;
  if (strcmp(m->verb, "GET") == 0) rule->pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_GET, rule->get = p;
  else if (strcmp(m->verb, "PUT") == 0) rule->pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_PUT, rule->put = p;
  else if (strcmp(m->verb, "POST") == 0) rule->pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_POST, rule->post = p;
  else if (strcmp(m->verb, "PATCH") == 0) rule->pattern_case = GOOGLE__API__HTTP_RULE__PATTERN_PATCH, rule->patch = p;
  else fail_msg("verb %s", m->verb);
  rule->body = (char *)m->body;
}

static uint8_t *make_things_set(size_t *len) {
  set_parts *s = calloc(1, sizeof *s);
  for (int i = 0; i < N_MESSAGES; i++) {
    for (int k = 0; k < messages[i].n_fields; k++) {
      Google__Protobuf__FieldDescriptorProto *f = &s->fields[i][k];
      google__protobuf__field_descriptor_proto__init(f);
      f->name = (char *)messages[i].fields[k].name;
      f->has_number = f->has_type = f->has_label = true;
      f->number = k + 1;
      f->label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
      f->type = messages[i].fields[k].type;
      f->type_name = (char *)messages[i].fields[k].type_name;
      s->field_ptrs[i][k] = f;
    }
    google__protobuf__descriptor_proto__init(&s->msgs[i]);
    s->msgs[i].name = (char *)messages[i].name;
    s->msgs[i].n_field = (size_t)messages[i].n_fields;
    s->msgs[i].field = s->field_ptrs[i];
    s->msg_ptrs[i] = &s->msgs[i];
  }
  static const char *const value_names[] = {"SHADE_UNSPECIFIED", "SHADE_DARK"};
  for (int i = 0; i < 2; i++) {
    google__protobuf__enum_value_descriptor_proto__init(&s->values[i]);
    s->values[i].name = (char *)value_names[i];
    s->values[i].has_number = true;
    s->values[i].number = i;
    s->value_ptrs[i] = &s->values[i];
  }
  google__protobuf__enum_descriptor_proto__init(&s->shade);
  s->shade.name = "Shade";
  s->shade.n_value = 2;
  s->shade.value = s->value_ptrs;
  s->shade_ptr = &s->shade;

  for (int i = 0; i < N_METHODS; i++) {
    Google__Api__HttpRule rule = GOOGLE__API__HTTP_RULE__INIT;
    set_rule(&rule, &methods[i]);
    size_t rlen = google__api__http_rule__get_packed_size(&rule);
    assert_true(rlen < 120);
    s->http[i][0] = (uint8_t)rlen;
    google__api__http_rule__pack(&rule, s->http[i] + 1);
    s->unknown[i][0] = (ProtobufCMessageUnknownField){.tag = DESCSET_EXT_HTTP,
                                                      .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                                                      .len = rlen + 1,
                                                      .data = s->http[i]};
    s->unknown[i][1] = (ProtobufCMessageUnknownField){.tag = DESCSET_EXT_ACCESS,
                                                      .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                                                      .len = sizeof public_access,
                                                      .data = public_access};
    google__protobuf__method_options__init(&s->options[i]);
    s->options[i].base.n_unknown_fields = methods[i].public_ ? 2 : 1;
    s->options[i].base.unknown_fields = s->unknown[i];
    google__protobuf__method_descriptor_proto__init(&s->methods[i]);
    s->methods[i].name = (char *)methods[i].name;
    s->methods[i].input_type = (char *)methods[i].input;
    s->methods[i].output_type = ".t.v1.Thing";
    s->methods[i].options = &s->options[i];
    s->method_ptrs[i] = &s->methods[i];
  }
  google__protobuf__service_descriptor_proto__init(&s->svc);
  s->svc.name = "Things";
  s->svc.n_method = N_METHODS;
  s->svc.method = s->method_ptrs;
  s->svc_ptr = &s->svc;

  for (int i = 0; i < N_COMMENTS; i++) {
    google__protobuf__source_code_info__location__init(&s->locations[i]);
    s->locations[i].n_path = comments[i].n_path;
    s->locations[i].path = (int32_t *)comments[i].path;
    s->locations[i].leading_comments = (char *)comments[i].leading;
    s->locations[i].trailing_comments = (char *)comments[i].trailing;
    s->location_ptrs[i] = &s->locations[i];
  }
  google__protobuf__source_code_info__init(&s->info);
  s->info.n_location = N_COMMENTS;
  s->info.location = s->location_ptrs;

  google__protobuf__file_descriptor_proto__init(&s->file);
  s->file.name = "t/v1/things.proto";
  s->file.package = "t.v1";
  s->file.n_message_type = N_MESSAGES;
  s->file.message_type = s->msg_ptrs;
  s->file.n_enum_type = 1;
  s->file.enum_type = &s->shade_ptr;
  s->file.n_service = 1;
  s->file.service = &s->svc_ptr;
  s->file.source_code_info = &s->info;
  s->file_ptr = &s->file;
  Google__Protobuf__FileDescriptorSet set = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
  set.n_file = 1;
  set.file = &s->file_ptr;
  *len = google__protobuf__file_descriptor_set__get_packed_size(&set);
  uint8_t *out = malloc(*len);
  google__protobuf__file_descriptor_set__pack(&set, out);
  free(s);
  return out;
}

static int setup_things(void **state) {
  size_t len;
  uint8_t *bytes = make_things_set(&len);
  int rc = setup_bytes(state, bytes, len); /* descset_load copies the bytes */
  free(bytes);
  return rc;
}

/* ---- helpers ---- */

static const char *str_at(json_t *obj, const char *key) { return json_string_value(json_object_get(obj, key)); }

static json_t *op_of(json_t *doc, const char *path, const char *verb) {
  json_t *item = json_object_get(json_object_get(doc, "paths"), path);
  if (!item) fail_msg("no path %s", path);
  json_t *op = json_object_get(item, verb);
  if (!op) fail_msg("no %s on %s", verb, path);
  return op;
}

static json_t *param_named(json_t *op, const char *name, const char *in) {
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(op, "parameters"), i, p) {
    if (strcmp(str_at(p, "name"), name) == 0 && strcmp(str_at(p, "in"), in) == 0) return p;
  }
  return NULL;
}

static json_t *schema_of(json_t *doc, const char *name) {
  json_t *s = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), name);
  if (!s) fail_msg("no schema %s", name);
  return s;
}

static bool starts_with(const char *s, const char *prefix) { return s && strncmp(s, prefix, strlen(prefix)) == 0; }

static bool ends_with(const char *s, const char *suffix) {
  size_t n = s ? strlen(s) : 0, m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A path with every "{name}" written "{}": paths of one shape differ only by parameter names. */
static void path_shape(const char *path, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = path; *p && o + 3 < cap; p++) {
    out[o++] = *p;
    if (*p == '{') {
      while (*p && *p != '}') p++;
      out[o++] = '}';
      if (!*p) break;
    }
  }
  out[o] = '\0';
}

/* The names of a path's "{...}" variables, in order; returns the count. */
static int path_variables(const char *path, char names[][128], int max) {
  int n = 0;
  for (const char *p = strchr(path, '{'); p && n < max; p = strchr(p, '{')) {
    const char *end = strchr(p, '}');
    assert_non_null(end);
    snprintf(names[n++], 128, "%.*s", (int)(end - p - 1), p + 1);
    p = end;
  }
  return n;
}

/* ---- comments ---- */

static void test_summary_is_the_first_sentence_and_the_rest_describes(void **state) {
  fixture *f = *state;
  json_t *get = op_of(f->doc, "/v1/things/{thingId}", "get");
  /* "e.g." and a full stop inside parentheses end nothing; the last full stop is dropped. */
  assert_string_equal(str_at(get, "summary"), "Gets a thing (e.g. a box; or a crate. Or not)");
  const char *desc = str_at(get, "description");
  if (!starts_with(desc, "Fails with NOT_FOUND.\n\nSecond paragraph.\n\n")) fail_msg("description: %s", desc);
  assert_true(ends_with(desc, "Public: no token needed."));
  json_t *move = op_of(f->doc, "/v1/boxes/{thing.label}", "put");
  assert_string_equal(str_at(move, "summary"), "Moves a thing");
  assert_true(starts_with(str_at(move, "description"), "Its label stays.\n\nRequires a bearer token"));
  /* "i.e." does not end a sentence; "!" does and stays. */
  assert_string_equal(str_at(op_of(f->doc, "/v1/things", "get"), "summary"), "Every thing, i.e. all of them!");
}

static void test_an_uncommented_method_gets_its_name_as_summary(void **state) {
  fixture *f = *state;
  json_t *update = op_of(f->doc, "/v1/things/{thingId}", "patch");
  assert_string_equal(str_at(update, "summary"), "Update thing");
  assert_string_equal(str_at(update, "description"), "Requires a bearer token or an API key.");
}

static void test_a_paragraph_without_a_full_stop_is_the_summary(void **state) {
  fixture *f = *state;
  json_t *export = op_of(f->doc, "/v1/things/{thingId}.csv", "get");
  assert_string_equal(str_at(export, "summary"), "Export as CSV");
  assert_true(starts_with(str_at(export, "description"), "One row per field.\n\nRequires"));
}

static void test_schemas_parameters_and_tags_carry_comments(void **state) {
  fixture *f = *state;
  json_t *thing = schema_of(f->doc, "t.v1.Thing");
  assert_string_equal(str_at(thing, "description"), "A thing. It has a label.");
  json_t *props = json_object_get(thing, "properties");
  /* A trailing comment documents a field too. */
  assert_string_equal(str_at(json_object_get(props, "label"), "description"), "Free text, e.g. \"box\".");
  assert_null(json_object_get(json_object_get(props, "thingId"), "description"));
  /* A $ref takes no sibling in OpenAPI 3.0: a commented reference is an allOf of one. */
  json_t *shade = json_object_get(props, "shade");
  assert_null(json_object_get(shade, "$ref"));
  assert_string_equal(str_at(shade, "description"), "How it looks.");
  assert_string_equal(str_at(json_array_get(json_object_get(shade, "allOf"), 0), "$ref"),
                      "#/components/schemas/t.v1.Shade");
  assert_string_equal(str_at(schema_of(f->doc, "t.v1.Shade"), "description"),
                      "How dark.\n\n- `SHADE_DARK`: Very dark.");
  json_t *view = param_named(op_of(f->doc, "/v1/things/{thingId}", "get"), "view", "query");
  assert_non_null(view);
  assert_string_equal(str_at(view, "description"), "Which fields to answer.");

  json_t *tags = json_object_get(f->doc, "tags");
  assert_int_equal(json_array_size(tags), 1);
  assert_string_equal(str_at(json_array_get(tags, 0), "name"), "Things");
  /* The file's opening comment, then the service's own. */
  assert_string_equal(str_at(json_array_get(tags, 0), "description"),
                      "Things contract: what the tests know of things.\n\nKeeps things.");
  assert_string_equal(json_string_value(json_array_get(json_object_get(op_of(f->doc, "/v1/things", "get"), "tags"), 0)),
                      "Things");
}

/* ---- one name per path ---- */

static void test_a_nested_field_takes_the_paths_top_level_name(void **state) {
  fixture *f = *state;
  json_t *paths = json_object_get(f->doc, "paths");
  assert_null(json_object_get(paths, "/v1/things/{thing.thingId}"));
  json_t *patch = op_of(f->doc, "/v1/things/{thingId}", "patch");
  json_t *p = param_named(patch, "thingId", "path");
  assert_non_null(p);
  assert_string_equal(str_at(p, "description"), "The request field `thing.thingId`.");
  assert_non_null(param_named(patch, "note", "query"));
  /* The GET's own parameter says nothing of a rename. */
  assert_null(json_object_get(param_named(op_of(f->doc, "/v1/things/{thingId}", "get"), "thingId", "path"),
                              "description"));
  /* Two nested fields on one shape: the first name seen is the path's. */
  assert_null(json_object_get(paths, "/v1/boxes/{thing.thingId}"));
  json_t *put = op_of(f->doc, "/v1/boxes/{thing.label}", "put");
  assert_string_equal(str_at(param_named(put, "thing.label", "path"), "description"),
                      "The request field `thing.thingId`.");
  assert_non_null(op_of(f->doc, "/v1/boxes/{thing.label}", "post"));
  /* A suffix is a different path. */
  assert_non_null(param_named(op_of(f->doc, "/v1/things/{thingId}.csv", "get"), "thingId", "path"));
}

/* No two paths differ only by parameter names; each operation declares exactly its path's
 * variables (once); operationIds are unique. */
static void expect_unambiguous(json_t *doc) {
  json_t *paths = json_object_get(doc, "paths");
  json_t *shapes = json_object(), *ids = json_object();
  const char *path;
  json_t *item;
  json_object_foreach(paths, path, item) {
    char shape[2048];
    path_shape(path, shape, sizeof shape);
    const char *other = str_at(shapes, shape);
    if (other) fail_msg("%s and %s differ only by parameter names", other, path);
    json_object_set_new(shapes, shape, json_string(path));
    char vars[16][128];
    int n_vars = path_variables(path, vars, 16);
    const char *verb;
    json_t *op;
    json_object_foreach(item, verb, op) {
      const char *id = str_at(op, "operationId");
      assert_non_null(id);
      if (json_object_get(ids, id)) fail_msg("operationId %s twice", id);
      json_object_set_new(ids, id, json_true());
      int in_path = 0;
      size_t i;
      json_t *p;
      json_array_foreach(json_object_get(op, "parameters"), i, p) in_path += strcmp(str_at(p, "in"), "path") == 0;
      if (in_path != n_vars) fail_msg("%s %s: %d path parameters for %d variables", verb, path, in_path, n_vars);
      for (int k = 0; k < n_vars; k++) {
        if (!param_named(op, vars[k], "path")) fail_msg("%s %s: no parameter %s", verb, path, vars[k]);
        for (int j = 0; j < k; j++)
          if (strcmp(vars[j], vars[k]) == 0) fail_msg("%s: {%s} twice", path, vars[k]);
      }
    }
  }
  json_decref(shapes);
  json_decref(ids);
}

static void test_no_two_paths_differ_only_by_parameter_names(void **state) {
  fixture *f = *state;
  expect_unambiguous(f->doc);
}

static void test_metro_passenger_staff_and_report_paths_are_one_each(void **state) {
  fixture *f = *state;
  expect_unambiguous(f->doc);
  static const char *const pairs[][3] = {
      {"/v1/passengers/{passengerId}", "patch", "passenger.passengerId"},
      {"/v1/staff/{staffId}", "patch", "staff.staffId"},
      {"/v1/report-templates/{templateId}", "patch", "template.templateId"},
      {"/v1/report-schedules/{scheduleId}", "patch", "schedule.scheduleId"},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    op_of(f->doc, pairs[i][0], "get");
    json_t *patch = op_of(f->doc, pairs[i][0], pairs[i][1]);
    char name[128];
    path_variables(pairs[i][0], (char(*)[128])name, 1);
    const char *desc = str_at(param_named(patch, name, "path"), "description");
    if (!desc || !strstr(desc, pairs[i][2])) fail_msg("%s patch: %s", pairs[i][0], desc ? desc : "(none)");
  }
  op_of(f->doc, "/v1/reports/{reportId}.csv", "get");
  op_of(f->doc, "/v1/auth/users/{userId}:setRoles", "post");
}

/* ---- the real document ---- */

static void test_every_operation_has_a_summary_and_the_errors(void **state) {
  fixture *f = *state;
  json_t *responses = json_object_get(json_object_get(f->doc, "components"), "responses");
  const char *path;
  json_t *item;
  int n_ops = 0;
  json_object_foreach(json_object_get(f->doc, "paths"), path, item) {
    const char *verb;
    json_t *op;
    json_object_foreach(item, verb, op) {
      n_ops++;
      const char *summary = str_at(op, "summary");
      if (!summary || !summary[0] || strchr(summary, '\n')) fail_msg("%s %s: summary \"%s\"", verb, path, summary);
      assert_non_null(json_array_get(json_object_get(op, "tags"), 0));
      json_t *rs = json_object_get(op, "responses");
      json_t *def = json_object_get(rs, "default");
      assert_string_equal(str_at(json_object_get(json_object_get(json_object_get(def, "content"), "application/json"),
                                                 "schema"), "$ref"), REF_STATUS);
      bool public_ = json_array_size(json_object_get(op, "security")) == 0;
      static const char *const always[] = {"400", "500", "503"};
      for (size_t i = 0; i < 3; i++)
        if (!json_object_get(rs, always[i])) fail_msg("%s %s: no %s", verb, path, always[i]);
      if (!public_ && (!json_object_get(rs, "401") || !json_object_get(rs, "403")))
        fail_msg("%s %s: a signed-in route without 401/403", verb, path);
      if (public_ && json_object_get(rs, "401")) fail_msg("%s %s: a public route with 401", verb, path);
      if ((strchr(path, '{') != NULL) != (json_object_get(rs, "404") != NULL))
        fail_msg("%s %s: 404 only where the path names a resource", verb, path);
      const char *code;
      json_t *r;
      json_object_foreach(rs, code, r) {
        if (code[0] != '4' && code[0] != '5') continue;
        const char *ref = str_at(r, "$ref");
        assert_true(starts_with(ref, "#/components/responses/"));
        json_t *shared = json_object_get(responses, ref + strlen("#/components/responses/"));
        if (!shared) fail_msg("%s: undeclared", ref);
        assert_string_equal(str_at(json_object_get(json_object_get(json_object_get(shared, "content"),
                                                                   "application/json"), "schema"), "$ref"),
                            REF_STATUS);
      }
    }
  }
  assert_true(n_ops > 100);
  assert_non_null(json_object_get(json_object_get(json_object_get(responses, "TooManyRequests"), "headers"),
                                  "Retry-After"));
}

static void test_comments_of_the_real_protos(void **state) {
  fixture *f = *state;
  json_t *signup = op_of(f->doc, "/v1/auth/register", "post");
  assert_string_equal(str_at(signup, "summary"),
                      "Self-registration of a passenger account (named SignUp: \"register\" is a C keyword)");
  assert_string_equal(str_at(signup, "description"), "Answers with a logged-in session.\n\nPublic: no token needed.");
  json_t *roles = op_of(f->doc, "/v1/auth/users/{userId}:setRoles", "post");
  assert_string_equal(str_at(roles, "summary"), "Admin: replaces the roles of an account");
  assert_non_null(strstr(str_at(roles, "description"), "one of the roles: admin."));
  json_t *session = schema_of(f->doc, "metro.auth.v1.Session");
  assert_string_equal(str_at(session, "description"), "A logged-in session.");
  assert_string_equal(str_at(json_object_get(json_object_get(session, "properties"), "expiresIn"), "description"),
                      "Lifetime of the access token in seconds.");
  json_t *tags = json_object_get(f->doc, "tags");
  assert_true(json_array_size(tags) >= 10);
  size_t i;
  json_t *tag;
  json_array_foreach(tags, i, tag) {
    if (strcmp(str_at(tag, "name"), "AuthService") == 0)
      assert_true(starts_with(str_at(tag, "description"), "Auth service contract:"));
    if (!str_at(tag, "description")) fail_msg("tag %s has no description", str_at(tag, "name"));
  }
}

static void test_servers_and_security_schemes(void **state) {
  fixture *f = *state;
  json_t *servers = json_object_get(f->doc, "servers");
  assert_int_equal(json_array_size(servers), 2);
  assert_string_equal(str_at(json_array_get(servers, 0), "url"), "/");
  json_t *prod = json_array_get(servers, 1);
  assert_string_equal(str_at(prod, "url"), "https://{host}");
  assert_non_null(str_at(json_object_get(json_object_get(prod, "variables"), "host"), "default"));
  assert_non_null(str_at(prod, "description"));

  json_t *schemes = json_object_get(json_object_get(f->doc, "components"), "securitySchemes");
  json_t *bearer = json_object_get(schemes, "bearerAuth");
  assert_string_equal(str_at(bearer, "type"), "http");
  assert_string_equal(str_at(bearer, "scheme"), "bearer");
  assert_string_equal(str_at(bearer, "bearerFormat"), "JWT");
  json_t *key = json_object_get(schemes, "apiKeyAuth");
  assert_string_equal(str_at(key, "type"), "apiKey");
  assert_string_equal(str_at(key, "in"), "header");
  assert_string_equal(str_at(key, "name"), "X-API-Key");
  assert_int_equal(json_array_size(json_object_get(f->doc, "security")), 2);

  /* Public routes opt out with an empty list; the others take either scheme. */
  json_t *login = op_of(f->doc, "/v1/auth/login", "post");
  json_t *sec = json_object_get(login, "security");
  assert_true(json_is_array(sec));
  assert_int_equal(json_array_size(sec), 0);
  sec = json_object_get(op_of(f->doc, "/v1/auth/me", "get"), "security");
  assert_int_equal(json_array_size(sec), 2);
  assert_non_null(json_object_get(json_array_get(sec, 0), "bearerAuth"));
  assert_non_null(json_object_get(json_array_get(sec, 1), "apiKeyAuth"));
  assert_null(json_object_get(json_object_get(login, "responses"), "401"));
  assert_non_null(json_object_get(json_object_get(login, "responses"), "429")); /* a write */
  assert_null(json_object_get(json_object_get(op_of(f->doc, "/v1/auth/jwks", "get"), "responses"), "429"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_summary_is_the_first_sentence_and_the_rest_describes, setup_things,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_an_uncommented_method_gets_its_name_as_summary, setup_things, teardown),
      cmocka_unit_test_setup_teardown(test_a_paragraph_without_a_full_stop_is_the_summary, setup_things, teardown),
      cmocka_unit_test_setup_teardown(test_schemas_parameters_and_tags_carry_comments, setup_things, teardown),
      cmocka_unit_test_setup_teardown(test_a_nested_field_takes_the_paths_top_level_name, setup_things, teardown),
      cmocka_unit_test_setup_teardown(test_no_two_paths_differ_only_by_parameter_names, setup_things, teardown),
      cmocka_unit_test_setup_teardown(test_no_two_paths_differ_only_by_parameter_names, setup_testing, teardown),
      cmocka_unit_test_setup_teardown(test_metro_passenger_staff_and_report_paths_are_one_each, setup_metro,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_every_operation_has_a_summary_and_the_errors, setup_metro, teardown),
      cmocka_unit_test_setup_teardown(test_comments_of_the_real_protos, setup_metro, teardown),
      cmocka_unit_test_setup_teardown(test_servers_and_security_schemes, setup_metro, teardown),
  };
  return cmocka_run_group_tests_name("openapi", tests, NULL, NULL);
}
