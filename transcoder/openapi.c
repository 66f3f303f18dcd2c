/* OpenAPI 3.0 generator: one operation per route, parameters from path variables and the
 * unbound scalar request fields, and components.schemas following the proto3 JSON mapping. */
#include "transcoder/openapi.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define OA_SCHEMA_PREFIX "#/components/schemas/"
#define OA_STATUS_SCHEMA "google.rpc.Status"
#define OA_MAX_NAME 512

typedef Google__Protobuf__FieldDescriptorProto oa_field;

typedef struct oa_ctx {
  const descset *d;
  json_t *schemas; /* components.schemas */
  json_t *pending; /* array of full names referenced but not yet described */
} oa_ctx;

/* ---- names ---- */

/* proto3 JSON name of a field: json_name when protoc filled it, else lowerCamelCase. */
static void oa_json_name(const oa_field *f, char *out, size_t cap) {
  if (f->json_name && f->json_name[0]) {
    snprintf(out, cap, "%s", f->json_name);
    return;
  }
  size_t o = 0;
  bool upper = false;
  for (const char *p = f->name ? f->name : ""; *p && o + 1 < cap; p++) {
    if (*p == '_') {
      upper = true;
      continue;
    }
    out[o++] = upper ? (char)toupper((unsigned char)*p) : *p;
    upper = false;
  }
  out[o] = '\0';
}

static const oa_field *oa_find_field(const Google__Protobuf__DescriptorProto *m, const char *name,
                                     size_t n) {
  for (size_t i = 0; m && i < m->n_field; i++)
    if (m->field[i]->name && strncmp(m->field[i]->name, name, n) == 0 && m->field[i]->name[n] == '\0')
      return m->field[i];
  return NULL;
}

/* The JSON spelling of a field path ("inner.label" stays, "user_id" -> "userId") and its last
 * field (NULL when unresolved). */
static const oa_field *oa_json_path(const descset *d, const char *msg_name, const char *path,
                                    char *out, size_t cap) {
  const Google__Protobuf__DescriptorProto *m = descset_message(d, msg_name);
  const oa_field *f = NULL;
  size_t o = 0;
  out[0] = '\0';
  for (const char *p = path; *p;) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    f = oa_find_field(m, p, n);
    char part[OA_MAX_NAME];
    if (f) {
      oa_json_name(f, part, sizeof part);
      m = f->type_name ? descset_message(d, f->type_name) : NULL;
    } else {
      oa_field fake = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__INIT;
      char raw[OA_MAX_NAME];
      snprintf(raw, sizeof raw, "%.*s", (int)n, p);
      fake.name = raw;
      oa_json_name(&fake, part, sizeof part);
      m = NULL;
    }
    int w = snprintf(out + o, cap - o, "%s%s", o ? "." : "", part);
    if (w < 0 || (size_t)w >= cap - o) break;
    o += (size_t)w;
    if (!dot) break;
    p = dot + 1;
  }
  return f;
}

/* ---- schemas ---- */

typedef struct oa_scalar {
  const char *type, *format;
} oa_scalar;

/* Indexed by FieldDescriptorProto.Type; TYPE_MESSAGE / TYPE_ENUM / TYPE_GROUP are handled apart. */
static const oa_scalar oa_scalars[] = {
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE] = {"number", "double"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT] = {"number", "float"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64] = {"string", "int64"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64] = {"string", "uint64"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32] = {"integer", "int32"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64] = {"string", "uint64"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32] = {"integer", "int64"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL] = {"boolean", NULL},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING] = {"string", NULL},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES] = {"string", "byte"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32] = {"integer", "int64"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32] = {"integer", "int32"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64] = {"string", "int64"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32] = {"integer", "int32"},
    [GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64] = {"string", "int64"},
};

static json_t *oa_typed(const char *type, const char *format, bool nullable) {
  json_t *s = json_pack("{s:s}", "type", type);
  if (format) json_object_set_new(s, "format", json_string(format));
  if (nullable) json_object_set_new(s, "nullable", json_true());
  return s;
}

/* Well-known types with a special JSON form, rendered inline. */
typedef struct oa_wkt {
  const char *name;
  const char *type, *format; /* NULL type: built by `special` */
  bool nullable;
  int special; /* 0 typed, 1 Struct, 2 Value, 3 ListValue, 4 Empty, 5 Any */
} oa_wkt;

static const oa_wkt oa_wkts[] = {
    {"google.protobuf.Timestamp", "string", "date-time", false, 0},
    {"google.protobuf.Duration", "string", NULL, false, 0},
    {"google.protobuf.FieldMask", "string", NULL, false, 0},
    {"google.protobuf.DoubleValue", "number", "double", true, 0},
    {"google.protobuf.FloatValue", "number", "float", true, 0},
    {"google.protobuf.Int64Value", "string", "int64", true, 0},
    {"google.protobuf.UInt64Value", "string", "uint64", true, 0},
    {"google.protobuf.Int32Value", "integer", "int32", true, 0},
    {"google.protobuf.UInt32Value", "integer", "int64", true, 0},
    {"google.protobuf.BoolValue", "boolean", NULL, true, 0},
    {"google.protobuf.StringValue", "string", NULL, true, 0},
    {"google.protobuf.BytesValue", "string", "byte", true, 0},
    {"google.protobuf.Struct", NULL, NULL, false, 1},
    {"google.protobuf.Value", NULL, NULL, false, 2},
    {"google.protobuf.ListValue", NULL, NULL, false, 3},
    {"google.protobuf.Empty", NULL, NULL, false, 4},
    {"google.protobuf.Any", NULL, NULL, false, 5},
};

static json_t *oa_any_schema(void) {
  return json_pack("{s:s, s:{s:{s:s}}, s:b}", "type", "object", "properties", "@type", "type",
                   "string", "additionalProperties", 1);
}

static json_t *oa_wkt_schema(const char *name) {
  for (size_t i = 0; i < sizeof oa_wkts / sizeof oa_wkts[0]; i++) {
    const oa_wkt *w = &oa_wkts[i];
    if (strcmp(w->name, name) != 0) continue;
    switch (w->special) {
      case 1: return json_pack("{s:s, s:b}", "type", "object", "additionalProperties", 1);
      case 2: return json_pack("{s:s}", "description", "Any JSON value.");
      case 3: return json_pack("{s:s, s:{}}", "type", "array", "items");
      case 4: return json_pack("{s:s}", "type", "object");
      case 5: return oa_any_schema();
      default: return oa_typed(w->type, w->format, w->nullable);
    }
  }
  return NULL;
}

static json_t *oa_ref(oa_ctx *c, const char *full_name) {
  if (!json_object_get(c->schemas, full_name)) {
    bool queued = false;
    size_t i;
    json_t *v;
    json_array_foreach(c->pending, i, v) queued |= strcmp(json_string_value(v), full_name) == 0;
    if (!queued) json_array_append_new(c->pending, json_string(full_name));
  }
  char ref[OA_MAX_NAME + sizeof OA_SCHEMA_PREFIX];
  snprintf(ref, sizeof ref, "%s%s", OA_SCHEMA_PREFIX, full_name);
  return json_pack("{s:s}", "$ref", ref);
}

/* Schema of a message or enum type by name: a WKT inline, else a $ref. */
static json_t *oa_type_schema(oa_ctx *c, const char *type_name) {
  const char *name = type_name[0] == '.' ? type_name + 1 : type_name;
  json_t *wkt = oa_wkt_schema(name);
  return wkt ? wkt : oa_ref(c, name);
}

static const Google__Protobuf__DescriptorProto *oa_map_entry(const descset *d, const oa_field *f) {
  if (f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE || !f->type_name ||
      f->label != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED)
    return NULL;
  const Google__Protobuf__DescriptorProto *m = descset_message(d, f->type_name);
  return (m && m->options && m->options->has_map_entry && m->options->map_entry) ? m : NULL;
}

static json_t *oa_single_schema(oa_ctx *c, const oa_field *f) {
  if (f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE ||
      f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM ||
      f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP)
    return f->type_name ? oa_type_schema(c, f->type_name) : json_object();
  if ((size_t)f->type < sizeof oa_scalars / sizeof oa_scalars[0] && oa_scalars[f->type].type)
    return oa_typed(oa_scalars[f->type].type, oa_scalars[f->type].format, false);
  return json_object();
}

static json_t *oa_field_schema(oa_ctx *c, const oa_field *f) {
  const Google__Protobuf__DescriptorProto *entry = oa_map_entry(c->d, f);
  if (entry) {
    const oa_field *value = entry->n_field == 2 ? entry->field[1] : NULL;
    return json_pack("{s:s, s:o}", "type", "object", "additionalProperties",
                     value ? oa_single_schema(c, value) : json_object());
  }
  if (f->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED)
    return json_pack("{s:s, s:o}", "type", "array", "items", oa_single_schema(c, f));
  return oa_single_schema(c, f);
}

static json_t *oa_message_component(oa_ctx *c, const char *name) {
  const Google__Protobuf__EnumDescriptorProto *en = descset_enum(c->d, name);
  if (en) {
    json_t *values = json_array();
    for (size_t i = 0; i < en->n_value; i++) json_array_append_new(values, json_string(en->value[i]->name));
    return json_pack("{s:s, s:o}", "type", "string", "enum", values);
  }
  const Google__Protobuf__DescriptorProto *m = descset_message(c->d, name);
  if (!m) return json_pack("{s:s, s:s}", "type", "object", "description", "Not described.");
  json_t *props = json_object();
  for (size_t i = 0; i < m->n_field; i++) {
    char jn[OA_MAX_NAME];
    oa_json_name(m->field[i], jn, sizeof jn);
    json_object_set_new(props, jn, oa_field_schema(c, m->field[i]));
  }
  return json_pack("{s:s, s:o}", "type", "object", "properties", props);
}

/* Describes every referenced type, including those referenced while describing. */
static void oa_drain(oa_ctx *c) {
  while (json_array_size(c->pending) > 0) {
    char name[OA_MAX_NAME];
    snprintf(name, sizeof name, "%s", json_string_value(json_array_get(c->pending, 0)));
    json_array_remove(c->pending, 0);
    if (json_object_get(c->schemas, name)) continue;
    json_object_set_new(c->schemas, name, json_object()); /* placeholder stops recursion */
    json_object_set_new(c->schemas, name, oa_message_component(c, name));
  }
}

static json_t *oa_status_schema(void) {
  return json_pack("{s:s, s:s, s:{s:{s:s, s:s}, s:{s:s}, s:{s:s, s:o}}}", "type", "object",
                   "description", "google.rpc.Status: the error of a failed call.", "properties",
                   "code", "type", "integer", "format", "int32", "message", "type", "string",
                   "details", "type", "array", "items", oa_any_schema());
}

/* ---- operations ---- */

static bool oa_is_bound(const route *r, const char *field_name) {
  for (int i = 0; i < r->tpl->n_variables; i++)
    if (strcmp(r->tpl->variables[i].field_path, field_name) == 0) return true;
  return false;
}

static bool oa_queryable(const descset *d, const oa_field *f) {
  if (oa_map_entry(d, f)) return false;
  if (f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE ||
      f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP)
    return false;
  return true;
}

/* A template in OpenAPI form ("/v1/{name=...}:echo" -> "/v1/{name}:echo", "/v1/r/{id}.csv" as is),
 * adding path parameters. */
static void oa_path(oa_ctx *c, const route *r, char *out, size_t cap, json_t *params) {
  const path_template *t = r->tpl;
  size_t o = 0;
  out[0] = '\0';
  for (int i = 0; i < t->n_segments;) {
    const pt_variable *var = NULL;
    for (int k = 0; k < t->n_variables && !var; k++)
      if (t->variables[k].first == i && t->variables[k].last > i) var = &t->variables[k];
    int w;
    if (var) {
      char jn[OA_MAX_NAME], pattern[OA_MAX_NAME] = "";
      const oa_field *f = NULL;
      if (r->raw_request) snprintf(jn, sizeof jn, "%s", var->field_path); /* a path_params key as written */
      else f = oa_json_path(c->d, r->method->input_type, var->field_path, jn, sizeof jn);
      w = snprintf(out + o, cap - o, "/{%s}", jn);
      json_t *schema = f ? oa_single_schema(c, f) : oa_typed("string", NULL, false);
      if (!path_template_single_segment(t, var)) {
        size_t po = 0;
        for (int s = var->first; s < var->last && po < sizeof pattern; s++) {
          const pt_segment *seg = &t->segments[s];
          const char *piece = seg->kind == PT_LITERAL ? seg->literal : seg->kind == PT_WILDCARD ? "[^/]+" : ".*";
          int pw = snprintf(pattern + po, sizeof pattern - po, "%s%s", s > var->first ? "/" : "", piece);
          if (pw < 0) break;
          po += (size_t)pw;
        }
        json_object_set_new(schema, "pattern", json_string(pattern));
      }
      json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", jn, "in", "path",
                                              "required", 1, "schema", schema));
      i = var->last;
    } else {
      const pt_segment *seg = &t->segments[i];
      w = snprintf(out + o, cap - o, "/%s", seg->kind == PT_LITERAL ? seg->literal : seg->kind == PT_WILDCARD ? "*" : "**");
      i++;
    }
    if (w < 0 || (size_t)w >= cap - o) return;
    o += (size_t)w;
  }
  if (t->tail) snprintf(out + o, cap - o, "%c%s", path_template_tail_separator(t->tail_kind), t->tail);
}

static void oa_query_params(oa_ctx *c, const route *r, json_t *params) {
  if (strcmp(r->body, "*") == 0 || r->raw_request) return; /* a raw request gets the query string as is */
  const Google__Protobuf__DescriptorProto *in = descset_message(c->d, r->method->input_type);
  for (size_t i = 0; in && i < in->n_field; i++) {
    const oa_field *f = in->field[i];
    if (!f->name || oa_is_bound(r, f->name) || strcmp(f->name, r->body) == 0 || !oa_queryable(c->d, f))
      continue;
    char jn[OA_MAX_NAME];
    oa_json_name(f, jn, sizeof jn);
    json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", jn, "in", "query",
                                            "required", 0, "schema", oa_field_schema(c, f)));
  }
}

static json_t *oa_body_field_schema(oa_ctx *c, const char *msg_name, const char *field) {
  const oa_field *f = oa_find_field(descset_message(c->d, msg_name), field, strlen(field));
  return f ? oa_field_schema(c, f) : json_object();
}

static json_t *oa_json_content(json_t *schema) {
  return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

/* Any bytes under any media type: raw requests and answers (metro.api.v1.HttpRequest / HttpResponse). */
static json_t *oa_raw_content(void) {
  return json_pack("{s:{s:{s:s, s:s}}}", "*/*", "schema", "type", "string", "format", "binary");
}

static const char *oa_short_name(const char *full) {
  const char *dot = strrchr(full, '.');
  return dot ? dot + 1 : full;
}

static json_t *oa_operation(oa_ctx *c, const route *r, json_t *params) {
  const descset_method *m = r->method;
  char id[OA_MAX_NAME];
  if (r->binding_index == 0) snprintf(id, sizeof id, "%s_%s", oa_short_name(m->service), m->name);
  else snprintf(id, sizeof id, "%s_%s%d", oa_short_name(m->service), m->name, r->binding_index + 1);

  char desc[OA_MAX_NAME * 2];
  if (m->access_public) {
    snprintf(desc, sizeof desc, "Public: no token needed.");
  } else if (m->n_roles > 0) {
    size_t o = (size_t)snprintf(desc, sizeof desc, "Requires a bearer token with one of the roles:");
    for (int i = 0; i < m->n_roles && o < sizeof desc; i++)
      o += (size_t)snprintf(desc + o, sizeof desc - o, "%s %s", i ? "," : "", m->roles[i]);
    if (o < sizeof desc) snprintf(desc + o, sizeof desc - o, ".");
  } else {
    snprintf(desc, sizeof desc, "Requires a bearer token.");
  }
  size_t used = strlen(desc);
  if (r->raw_request)
    used += (size_t)snprintf(desc + used, sizeof desc - used,
                             " Raw HTTP request: the query string, the headers (but Cookie) and the body reach "
                             "the service exactly as sent.");
  if (r->raw_response && used < sizeof desc)
    snprintf(desc + used, sizeof desc - used,
             " Raw HTTP answer: the service chooses the status, the content type and the body.");

  oa_query_params(c, r, params);
  json_t *op = json_pack("{s:s, s:[s], s:s, s:o}", "operationId", id, "tags", oa_short_name(m->service),
                         "description", desc, "parameters", params);
  json_object_set_new(op, "security",
                      m->access_public ? json_array() : json_pack("[{s:[]}]", "bearerAuth"));
  if (m->n_roles > 0) {
    json_t *roles = json_array();
    for (int i = 0; i < m->n_roles; i++) json_array_append_new(roles, json_string(m->roles[i]));
    json_object_set_new(op, "x-metro-roles", roles);
  }
  if (r->body[0] && r->raw_request) {
    json_object_set_new(op, "requestBody", json_pack("{s:b, s:o}", "required", 0, "content", oa_raw_content()));
  } else if (r->body[0]) {
    json_t *schema = strcmp(r->body, "*") == 0 ? oa_type_schema(c, m->input_type)
                                               : oa_body_field_schema(c, m->input_type, r->body);
    json_object_set_new(op, "requestBody",
                        json_pack("{s:b, s:o}", "required", 1, "content", oa_json_content(schema)));
  }
  json_t *ok;
  if (r->raw_response) {
    ok = json_pack("{s:s, s:o}", "description", "A raw HTTP answer (any status 200-599, content type and body).",
                   "content", oa_raw_content());
  } else {
    json_t *response = r->response_body[0] ? oa_body_field_schema(c, m->output_type, r->response_body)
                                           : oa_type_schema(c, m->output_type);
    ok = json_pack("{s:s, s:o}", "description", "OK", "content", oa_json_content(response));
  }
  json_t *error = json_pack("{s:s}", "$ref", OA_SCHEMA_PREFIX OA_STATUS_SCHEMA);
  json_object_set_new(op, "responses",
                      json_pack("{s:o, s:{s:s, s:o}}", "200", ok, "default", "description",
                                "An error, as google.rpc.Status.", "content", oa_json_content(error)));
  return op;
}

static bool oa_method_key(const char *http_method, char *out, size_t cap) {
  static const char *const known[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
  size_t n = strlen(http_method);
  if (n + 1 > cap) return false;
  for (size_t i = 0; i <= n; i++) out[i] = (char)tolower((unsigned char)http_method[i]);
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(known[i], out) == 0) return true;
  return false;
}

json_t *openapi_build(const descset *d, const route_table *t, const char *title, const char *version) {
  oa_ctx c = {.d = d, .schemas = json_object(), .pending = json_array()};
  json_t *paths = json_object();
  const route *routes;
  int n = route_table_routes(t, &routes);
  for (int i = 0; i < n; i++) {
    const route *r = &routes[i];
    char key[16];
    if (!oa_method_key(r->http_method, key, sizeof key)) continue; /* no OpenAPI verb for it */
    char path[PT_MAX_TEMPLATE_LEN * 2];
    json_t *params = json_array();
    oa_path(&c, r, path, sizeof path, params);
    json_t *item = json_object_get(paths, path);
    if (!item) {
      item = json_object();
      json_object_set_new(paths, path, item);
    }
    if (json_object_get(item, key)) { /* two templates differing only in variable patterns */
      json_decref(params);
      continue;
    }
    json_object_set_new(item, key, oa_operation(&c, r, params));
  }
  oa_drain(&c);
  json_object_set_new(c.schemas, OA_STATUS_SCHEMA, oa_status_schema());
  json_decref(c.pending);

  json_t *components = json_pack("{s:o, s:{s:{s:s, s:s, s:s}}}", "schemas", c.schemas,
                                 "securitySchemes", "bearerAuth", "type", "http", "scheme", "bearer",
                                 "bearerFormat", "JWT");
  return json_pack("{s:s, s:{s:s, s:s}, s:o, s:o}", "openapi", "3.0.3", "info", "title",
                   title ? title : "Metro API", "version", version ? version : "v1", "paths", paths,
                   "components", components);
}
