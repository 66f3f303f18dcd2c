/* OpenAPI 3.0 generator: one operation per route, parameters from path variables and the
 * unbound scalar request fields, components.schemas following the proto3 JSON mapping, and the
 * prose (summaries, descriptions, tags) from the protos' comments kept in the descriptor set. */
#include "transcoder/openapi.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/arena.h"

#define OA_SCHEMA_PREFIX "#/components/schemas/"
#define OA_RESPONSE_PREFIX "#/components/responses/"
#define OA_STATUS_SCHEMA "google.rpc.Status"
#define OA_MAX_NAME 512

typedef Google__Protobuf__FieldDescriptorProto oa_field;

typedef struct oa_ctx {
  const descset *d;
  arena *a;          /* everything but the document itself dies with the build */
  json_t *schemas;   /* components.schemas */
  json_t *pending;   /* array of full names referenced but not yet described */
  json_t *comments;  /* full symbol name (or a file name, for its header) -> cleaned comment */
  json_t *responses; /* components.responses referenced so far */
  json_t *op_ids;    /* operationIds taken */
} oa_ctx;

/* ---- comments (SourceCodeInfo) ---- */

/* Field numbers of the descriptor messages, as they appear in a SourceCodeInfo location path. */
enum {
  OA_FILE_MESSAGE = 4,
  OA_FILE_ENUM = 5,
  OA_FILE_SERVICE = 6,
  OA_FILE_SYNTAX = 12,
  OA_MESSAGE_FIELD = 2,
  OA_MESSAGE_NESTED = 3,
  OA_MESSAGE_ENUM = 4,
  OA_ENUM_VALUE = 2,
  OA_SERVICE_METHOD = 2,
};

static const char *oa_join(arena *a, const char *scope, const char *name) {
  return scope[0] ? arena_printf(a, "%s.%s", scope, name ? name : "") : arena_strdup(a, name ? name : "");
}

static const char *oa_enum_symbol(arena *a, const char *scope, const Google__Protobuf__EnumDescriptorProto *e,
                                  const int32_t *p, size_t n) {
  const char *name = oa_join(a, scope, e->name);
  if (n == 0) return name;
  if (n == 2 && p[0] == OA_ENUM_VALUE && p[1] >= 0 && (size_t)p[1] < e->n_value)
    return oa_join(a, name, e->value[p[1]]->name);
  return NULL;
}

/* The full name of what a location path inside a message points at (the message, a field, a
 * nested message or enum), or NULL for anything else (options, a field's type...). */
static const char *oa_message_symbol(arena *a, const char *scope, const Google__Protobuf__DescriptorProto *m,
                                     const int32_t *p, size_t n) {
  const char *name = oa_join(a, scope, m->name);
  if (n == 0) return name;
  if (n < 2 || p[1] < 0) return NULL;
  size_t i = (size_t)p[1];
  switch (p[0]) {
    case OA_MESSAGE_FIELD: return n == 2 && i < m->n_field ? oa_join(a, name, m->field[i]->name) : NULL;
    case OA_MESSAGE_NESTED:
      return i < m->n_nested_type ? oa_message_symbol(a, name, m->nested_type[i], p + 2, n - 2) : NULL;
    case OA_MESSAGE_ENUM: return i < m->n_enum_type ? oa_enum_symbol(a, name, m->enum_type[i], p + 2, n - 2) : NULL;
    default: return NULL;
  }
}

/* The same for a path from the file: messages, enums, services, methods; the syntax statement
 * stands for the file's opening comment and is keyed by the file's name. */
static const char *oa_file_symbol(arena *a, const Google__Protobuf__FileDescriptorProto *f, const int32_t *p,
                                  size_t n) {
  const char *pkg = f->package ? f->package : "";
  if (n == 1 && p[0] == OA_FILE_SYNTAX) return f->name;
  if (n < 2 || p[1] < 0) return NULL;
  size_t i = (size_t)p[1];
  switch (p[0]) {
    case OA_FILE_MESSAGE:
      return i < f->n_message_type ? oa_message_symbol(a, pkg, f->message_type[i], p + 2, n - 2) : NULL;
    case OA_FILE_ENUM: return i < f->n_enum_type ? oa_enum_symbol(a, pkg, f->enum_type[i], p + 2, n - 2) : NULL;
    case OA_FILE_SERVICE: {
      if (i >= f->n_service) return NULL;
      const Google__Protobuf__ServiceDescriptorProto *s = f->service[i];
      const char *name = oa_join(a, pkg, s->name);
      if (n == 2) return name;
      if (n == 4 && p[2] == OA_SERVICE_METHOD && p[3] >= 0 && (size_t)p[3] < s->n_method)
        return oa_join(a, name, s->method[p[3]]->name);
      return NULL;
    }
    default: return NULL;
  }
}

/* A comment as Markdown: each line trimmed, blank lines at either end dropped; "" when blank. */
static const char *oa_clean_comment(arena *a, const char *raw) {
  arena_buf b = {.a = a};
  size_t blank = 0; /* blank lines seen since the last text */
  for (const char *p = raw; *p;) {
    size_t n = strcspn(p, "\n");
    const char *s = p, *e = p + n;
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    if (e == s) {
      blank++;
    } else {
      if (b.len > 0) arena_buf_puts(&b, blank ? "\n\n" : "\n");
      arena_buf_append(&b, s, (size_t)(e - s));
      blank = 0;
    }
    p += n + (p[n] == '\n');
  }
  return arena_buf_str(&b);
}

/* The comment documenting a location: its leading comment, else its trailing one, else (for a
 * file's opening comment set apart by a blank line) its first detached one. */
static const char *oa_location_comment(const Google__Protobuf__SourceCodeInfo__Location *l) {
  if (l->leading_comments && l->leading_comments[0]) return l->leading_comments;
  if (l->trailing_comments && l->trailing_comments[0]) return l->trailing_comments;
  return l->n_leading_detached_comments > 0 ? l->leading_detached_comments[0] : NULL;
}

/* Indexes the comments of every file of the set by the symbol they document. */
static void oa_index_comments(oa_ctx *c) {
  ProtobufCAllocator alloc = arena_protobuf_allocator(c->a);
  const char *const *files;
  int n_files = descset_files(c->d, &files);
  for (int i = 0; i < n_files; i++) {
    const uint8_t *data;
    size_t len;
    if (!descset_file_bytes(c->d, files[i], &data, &len)) continue;
    Google__Protobuf__FileDescriptorProto *f = google__protobuf__file_descriptor_proto__unpack(&alloc, len, data);
    if (!f || !f->source_code_info) continue;
    for (size_t k = 0; k < f->source_code_info->n_location; k++) {
      const Google__Protobuf__SourceCodeInfo__Location *l = f->source_code_info->location[k];
      const char *raw = oa_location_comment(l);
      if (!raw) continue;
      const char *symbol = oa_file_symbol(c->a, f, l->path, l->n_path);
      if (!symbol || json_object_get(c->comments, symbol)) continue;
      const char *text = oa_clean_comment(c->a, raw);
      if (text[0]) json_object_set_new(c->comments, symbol, json_string(text));
    }
  }
}

/* The comment of a symbol (leading dot tolerated), or NULL. */
static const char *oa_comment(const oa_ctx *c, const char *symbol) {
  if (!symbol) return NULL;
  return json_string_value(json_object_get(c->comments, symbol[0] == '.' ? symbol + 1 : symbol));
}

static const char *oa_member_comment(const oa_ctx *c, const char *owner, const char *member) {
  if (!owner || !member) return NULL;
  return oa_comment(c, arena_printf(c->a, "%s.%s", owner[0] == '.' ? owner + 1 : owner, member));
}

/* Whether text[i], a '.', '!' or '?', ends a sentence: followed by a space or the end, and not
 * the dot of "e.g." or "i.e.". */
static bool oa_sentence_end(const char *text, size_t i) {
  if (text[i + 1] && !isspace((unsigned char)text[i + 1])) return false;
  if (text[i] != '.' || i < 3) return true;
  return !((tolower((unsigned char)text[i - 3]) == 'e' || tolower((unsigned char)text[i - 3]) == 'i') &&
           text[i - 2] == '.' && isalpha((unsigned char)text[i - 1]));
}

/* Splits a comment into its first sentence, on one line and without its full stop, and the rest
 * ("" when none). A sentence does not end inside parentheses or brackets; a paragraph's end ends
 * one without punctuation. */
static const char *oa_first_sentence(arena *a, const char *text, const char **rest) {
  size_t i = 0;
  int depth = 0;
  for (; text[i]; i++) {
    char ch = text[i];
    if (ch == '(' || ch == '[') depth++;
    else if ((ch == ')' || ch == ']') && depth > 0) depth--;
    else if (depth == 0 && (ch == '.' || ch == '!' || ch == '?') && oa_sentence_end(text, i)) break;
    else if (depth == 0 && ch == '\n' && text[i + 1] == '\n') break;
  }
  size_t end = text[i] == '!' || text[i] == '?' ? i + 1 : i; /* a full stop or a newline is dropped */
  char *summary = arena_strndup(a, text, end);
  for (char *p = summary; *p; p++)
    if (*p == '\n') *p = ' ';
  const char *r = text[i] ? text + i + 1 : text + i;
  while (isspace((unsigned char)*r)) r++;
  *rest = r;
  return summary;
}

/* "GetUser" -> "Get user": a summary for a method nobody commented. */
static const char *oa_words(arena *a, const char *camel) {
  arena_buf b = {.a = a};
  for (const char *p = camel; *p; p++) {
    if (p != camel && isupper((unsigned char)*p) && !isupper((unsigned char)p[-1])) {
      arena_buf_putc(&b, ' ');
      arena_buf_putc(&b, (char)tolower((unsigned char)*p));
    } else {
      arena_buf_putc(&b, *p);
    }
  }
  return arena_buf_str(&b);
}

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

/* The JSON spelling of a field path ("inner.label" stays, "user_id" -> "userId"), its last
 * field (NULL when unresolved) and the message declaring that field (*owner, may be NULL). */
static const oa_field *oa_json_path(const descset *d, const char *msg_name, const char *path,
                                    char *out, size_t cap, const char **owner) {
  const Google__Protobuf__DescriptorProto *m = descset_message(d, msg_name);
  const char *m_name = msg_name;
  const oa_field *f = NULL;
  size_t o = 0;
  out[0] = '\0';
  *owner = NULL;
  for (const char *p = path; *p;) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    f = oa_find_field(m, p, n);
    char part[OA_MAX_NAME];
    *owner = f ? m_name : NULL;
    if (f) {
      oa_json_name(f, part, sizeof part);
      m_name = f->type_name;
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

/* Adds a description to a schema; a $ref takes no siblings in OpenAPI 3.0, so it is wrapped in
 * an allOf of one. Returns the schema to use. */
static json_t *oa_describe(json_t *schema, const char *text) {
  if (!text || !text[0]) return schema;
  if (json_object_get(schema, "$ref")) schema = json_pack("{s:[o]}", "allOf", schema);
  json_object_set_new(schema, "description", json_string(text));
  return schema;
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

/* An enum's comment followed by a list of its commented values. */
static const char *oa_enum_description(oa_ctx *c, const char *name, const Google__Protobuf__EnumDescriptorProto *en) {
  arena_buf b = {.a = c->a};
  const char *own = oa_comment(c, name);
  if (own) arena_buf_puts(&b, own);
  bool listed = false;
  for (size_t i = 0; i < en->n_value; i++) {
    const char *v = oa_member_comment(c, name, en->value[i]->name);
    if (!v) continue;
    arena_buf_printf(&b, "%s- `%s`: ", listed ? "\n" : b.len ? "\n\n" : "", en->value[i]->name);
    listed = true;
    for (const char *p = v; *p; p++) arena_buf_putc(&b, *p == '\n' ? ' ' : *p);
  }
  return arena_buf_str(&b);
}

static json_t *oa_message_component(oa_ctx *c, const char *name) {
  const Google__Protobuf__EnumDescriptorProto *en = descset_enum(c->d, name);
  if (en) {
    json_t *values = json_array();
    for (size_t i = 0; i < en->n_value; i++) json_array_append_new(values, json_string(en->value[i]->name));
    return oa_describe(json_pack("{s:s, s:o}", "type", "string", "enum", values), oa_enum_description(c, name, en));
  }
  const Google__Protobuf__DescriptorProto *m = descset_message(c->d, name);
  if (!m) return json_pack("{s:s, s:s}", "type", "object", "description", "Not described.");
  json_t *props = json_object();
  for (size_t i = 0; i < m->n_field; i++) {
    char jn[OA_MAX_NAME];
    oa_json_name(m->field[i], jn, sizeof jn);
    json_object_set_new(props, jn, oa_describe(oa_field_schema(c, m->field[i]),
                                               oa_member_comment(c, name, m->field[i]->name)));
  }
  return oa_describe(json_pack("{s:s, s:o}", "type", "object", "properties", props), oa_comment(c, name));
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
  return json_pack("{s:s, s:s, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s, s:o}}}", "type", "object",
                   "description",
                   "google.rpc.Status: the error of a failed call. `details` holds a "
                   "google.rpc.ErrorInfo whose `reason` is the machine-readable cause.",
                   "properties", "code", "type", "integer", "format", "int32", "description",
                   "The gRPC status code (google.rpc.Code).", "message", "type", "string", "description",
                   "A message for humans.", "details", "type", "array", "description",
                   "google.protobuf.Any messages; a google.rpc.ErrorInfo first.", "items", oa_any_schema());
}

/* ---- error responses ---- */

/* What an operation is, deciding which errors it can answer. */
enum {
  OA_ANY = 1,         /* every operation */
  OA_SIGNED_IN = 2,   /* needs a token or an API key */
  OA_HAS_PATH_VAR = 4,/* names a resource in its path */
  OA_WRITE = 8,       /* POST, PUT, PATCH, DELETE (rate-limited at the gateway) */
};

/* The error answers, each shared as a components.responses entry (see docs/api.md, Errors). */
typedef struct oa_error {
  const char *status, *component, *description;
  int when; /* OA_* traits any of which makes it possible */
} oa_error;

static const oa_error oa_errors[] = {
    {"400", "BadRequest", "The request is invalid: INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE.", OA_ANY},
    {"401", "Unauthenticated", "No valid access token or API key: UNAUTHENTICATED.", OA_SIGNED_IN},
    {"403", "PermissionDenied", "The caller lacks a role the method needs, or the API key may not call this route: "
     "PERMISSION_DENIED.", OA_SIGNED_IN},
    {"404", "NotFound", "The resource does not exist: NOT_FOUND.", OA_HAS_PATH_VAR},
    {"409", "Conflict", "The request conflicts with the resource's state: ALREADY_EXISTS or ABORTED.", OA_WRITE},
    {"429", "TooManyRequests", "A rate limit was reached: RESOURCE_EXHAUSTED. Retry-After says when to retry.",
     OA_WRITE | OA_SIGNED_IN},
    {"500", "Internal", "An unexpected failure: INTERNAL, UNKNOWN or DATA_LOSS.", OA_ANY},
    {"503", "Unavailable", "A service is unreachable or overloaded: UNAVAILABLE. Safe to retry later.", OA_ANY},
};

static json_t *oa_status_content(void) {
  return json_pack("{s:{s:{s:s}}}", "application/json", "schema", "$ref", OA_SCHEMA_PREFIX OA_STATUS_SCHEMA);
}

/* A $ref to components.responses/<name>, declaring it on first use. */
static json_t *oa_error_ref(oa_ctx *c, const oa_error *e) {
  if (!json_object_get(c->responses, e->component)) {
    json_t *resp = json_pack("{s:s, s:o}", "description", e->description, "content", oa_status_content());
    if (strcmp(e->status, "429") == 0)
      json_object_set_new(resp, "headers",
                          json_pack("{s:{s:s, s:{s:s}}}", "Retry-After", "description",
                                    "Seconds to wait before retrying.", "schema", "type", "integer"));
    json_object_set_new(c->responses, e->component, resp);
  }
  char ref[OA_MAX_NAME];
  snprintf(ref, sizeof ref, "%s%s", OA_RESPONSE_PREFIX, e->component);
  return json_pack("{s:s}", "$ref", ref);
}

static void oa_error_responses(oa_ctx *c, json_t *responses, int traits) {
  for (size_t i = 0; i < sizeof oa_errors / sizeof oa_errors[0]; i++)
    if (oa_errors[i].when & traits) json_object_set_new(responses, oa_errors[i].status, oa_error_ref(c, &oa_errors[i]));
  json_object_set_new(responses, "default",
                      json_pack("{s:s, s:o}", "description", "Any other error, as google.rpc.Status.", "content",
                                oa_status_content()));
}

/* ---- paths ---- */

/* A path variable of one route, before its name is chosen. */
typedef struct oa_var {
  char field[OA_MAX_NAME]; /* JSON path of the bound field ("passenger.passengerId"); a raw key as written */
  json_t *schema;
  const char *comment;
} oa_var;

/* A route's OpenAPI path with every variable written "{}" (its shape: routes of one shape are one
 * OpenAPI path), and its variables in order. */
typedef struct oa_route_path {
  char shape[PT_MAX_TEMPLATE_LEN * 2];
  oa_var vars[PT_MAX_VARIABLES];
  int n_vars;
  bool usable; /* an OpenAPI verb and a path that fit */
} oa_route_path;

/* The shape and variables of a template ("/v1/{name=...}:echo" -> "/v1/{}:echo", "/v1/r/{id}.csv"
 * -> "/v1/r/{}.csv"). A multi-segment variable gets a pattern. */
static bool oa_route_shape(oa_ctx *c, const route *r, oa_route_path *rp) {
  const path_template *t = r->tpl;
  size_t o = 0, cap = sizeof rp->shape;
  rp->shape[0] = '\0';
  rp->n_vars = 0;
  for (int i = 0; i < t->n_segments;) {
    const pt_variable *var = NULL;
    for (int k = 0; k < t->n_variables && !var; k++)
      if (t->variables[k].first == i && t->variables[k].last > i) var = &t->variables[k];
    int w;
    if (var && rp->n_vars < PT_MAX_VARIABLES) {
      oa_var *v = &rp->vars[rp->n_vars++];
      const oa_field *f = NULL;
      const char *owner = NULL;
      if (r->raw_request) snprintf(v->field, sizeof v->field, "%s", var->field_path); /* a path_params key */
      else f = oa_json_path(c->d, r->method->input_type, var->field_path, v->field, sizeof v->field, &owner);
      v->comment = f ? oa_member_comment(c, owner, f->name) : NULL;
      v->schema = f ? oa_single_schema(c, f) : oa_typed("string", NULL, false);
      if (!path_template_single_segment(t, var)) {
        char pattern[OA_MAX_NAME] = "";
        size_t po = 0;
        for (int s = var->first; s < var->last && po < sizeof pattern; s++) {
          const pt_segment *seg = &t->segments[s];
          const char *piece = seg->kind == PT_LITERAL ? seg->literal : seg->kind == PT_WILDCARD ? "[^/]+" : ".*";
          int pw = snprintf(pattern + po, sizeof pattern - po, "%s%s", s > var->first ? "/" : "", piece);
          if (pw < 0) break;
          po += (size_t)pw;
        }
        json_object_set_new(v->schema, "pattern", json_string(pattern));
      }
      w = snprintf(rp->shape + o, cap - o, "/{}");
      i = var->last;
    } else {
      const pt_segment *seg = &t->segments[i];
      const char *text = seg->kind == PT_LITERAL ? seg->literal : seg->kind == PT_WILDCARD ? "*" : "**";
      w = snprintf(rp->shape + o, cap - o, "/%s", text);
      i++;
    }
    if (w < 0 || (size_t)w >= cap - o) return false;
    o += (size_t)w;
  }
  if (t->tail) {
    int w = snprintf(rp->shape + o, cap - o, "%c%s", path_template_tail_separator(t->tail_kind), t->tail);
    if (w < 0 || (size_t)w >= cap - o) return false;
  }
  return true;
}

/* Records a route's variable names under its shape: per position, a top-level field's name wins
 * over a nested one ({passengerId} over {passenger.passengerId}), else the first seen stays. */
static void oa_vote_names(json_t *names_by_shape, const oa_route_path *rp) {
  json_t *names = json_object_get(names_by_shape, rp->shape);
  if (!names) {
    names = json_array();
    json_object_set_new(names_by_shape, rp->shape, names);
  }
  for (int k = 0; k < rp->n_vars; k++) {
    const char *seen = json_string_value(json_array_get(names, (size_t)k));
    if (!seen) json_array_append_new(names, json_string(rp->vars[k].field));
    else if (strchr(seen, '.') && !strchr(rp->vars[k].field, '.'))
      json_array_set_new(names, (size_t)k, json_string(rp->vars[k].field));
  }
}

/* Within one path a name may appear once: a repeated one gets its position appended. */
static void oa_unique_names(json_t *names_by_shape) {
  const char *shape;
  json_t *names;
  json_object_foreach(names_by_shape, shape, names) {
    for (size_t k = 1; k < json_array_size(names); k++) {
      for (size_t j = 0; j < k; j++) {
        if (strcmp(json_string_value(json_array_get(names, j)), json_string_value(json_array_get(names, k))) != 0)
          continue;
        char renamed[OA_MAX_NAME + 16];
        snprintf(renamed, sizeof renamed, "%s%zu", json_string_value(json_array_get(names, k)), k + 1);
        json_array_set_new(names, k, json_string(renamed));
        break;
      }
    }
  }
}

/* The OpenAPI path of a shape with the chosen names, and the path parameters (stealing the
 * variables' schemas). A parameter named for another field says which field it fills. */
static const char *oa_render_path(oa_ctx *c, oa_route_path *rp, json_t *names, json_t *params) {
  arena_buf b = {.a = c->a};
  int k = 0;
  for (const char *p = rp->shape; *p; p++) {
    if (p[0] == '{' && p[1] == '}' && k < rp->n_vars) {
      const char *name = json_string_value(json_array_get(names, (size_t)k));
      oa_var *v = &rp->vars[k++];
      arena_buf_printf(&b, "{%s}", name);
      json_t *param = json_pack("{s:s, s:s, s:b, s:o}", "name", name, "in", "path", "required", 1, "schema", v->schema);
      v->schema = NULL;
      const char *text = v->comment;
      if (strcmp(name, v->field) != 0)
        text = arena_printf(c->a, "The request field `%s`.%s%s", v->field, text ? " " : "", text ? text : "");
      if (text) json_object_set_new(param, "description", json_string(text));
      json_array_append_new(params, param);
      p++;
    } else {
      arena_buf_putc(&b, *p);
    }
  }
  return arena_buf_str(&b);
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

static void oa_query_params(oa_ctx *c, const route *r, json_t *params) {
  if (strcmp(r->body, "*") == 0 || r->raw_request) return; /* a raw request gets the query string as is */
  const Google__Protobuf__DescriptorProto *in = descset_message(c->d, r->method->input_type);
  for (size_t i = 0; in && i < in->n_field; i++) {
    const oa_field *f = in->field[i];
    if (!f->name || oa_is_bound(r, f->name) || strcmp(f->name, r->body) == 0 || !oa_queryable(c->d, f))
      continue;
    char jn[OA_MAX_NAME];
    oa_json_name(f, jn, sizeof jn);
    json_t *param = json_pack("{s:s, s:s, s:b, s:o}", "name", jn, "in", "query", "required", 0, "schema",
                              oa_field_schema(c, f));
    const char *text = oa_member_comment(c, r->method->input_type, f->name);
    if (text) json_object_set_new(param, "description", json_string(text));
    json_array_append_new(params, param);
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

/* "Service_Method", "Service_Method2" for the second binding; unique in the document. */
static const char *oa_operation_id(oa_ctx *c, const route *r) {
  const descset_method *m = r->method;
  const char *id = r->binding_index == 0
                       ? arena_printf(c->a, "%s_%s", oa_short_name(m->service), m->name)
                       : arena_printf(c->a, "%s_%s%d", oa_short_name(m->service), m->name, r->binding_index + 1);
  for (int n = 2; json_object_get(c->op_ids, id); n++)
    id = arena_printf(c->a, "%s_%s_%d", oa_short_name(m->service), m->name, n);
  json_object_set_new(c->op_ids, id, json_true());
  return id;
}

/* Who may call: the sentence the description ends with. */
static const char *oa_access_text(oa_ctx *c, const descset_method *m) {
  if (m->access_public) return "Public: no token needed.";
  if (m->n_roles == 0) return "Requires a bearer token or an API key.";
  arena_buf b = {.a = c->a};
  arena_buf_puts(&b, "Requires a bearer token or an API key with one of the roles:");
  for (int i = 0; i < m->n_roles; i++) arena_buf_printf(&b, "%s %s", i ? "," : "", m->roles[i]);
  arena_buf_putc(&b, '.');
  return arena_buf_str(&b);
}

static json_t *oa_operation(oa_ctx *c, const route *r, json_t *params, int traits) {
  const descset_method *m = r->method;
  const char *comment = oa_member_comment(c, m->service, m->name);
  const char *rest = "";
  const char *summary = comment ? oa_first_sentence(c->a, comment, &rest) : "";
  if (!summary[0]) summary = oa_words(c->a, m->name);

  arena_buf desc = {.a = c->a};
  if (rest[0]) arena_buf_printf(&desc, "%s\n\n", rest);
  arena_buf_puts(&desc, oa_access_text(c, m));
  if (r->raw_request)
    arena_buf_puts(&desc, " Raw HTTP request: the query string, the headers (but Cookie) and the body reach "
                          "the service exactly as sent.");
  if (r->raw_response)
    arena_buf_puts(&desc, " Raw HTTP answer: the service chooses the status, the content type and the body.");

  oa_query_params(c, r, params);
  json_t *op = json_pack("{s:s, s:s, s:[s], s:s, s:o}", "operationId", oa_operation_id(c, r), "summary", summary,
                         "tags", oa_short_name(m->service), "description", arena_buf_str(&desc), "parameters", params);
  json_object_set_new(op, "security",
                      m->access_public ? json_array() : json_pack("[{s:[]}, {s:[]}]", "bearerAuth", "apiKeyAuth"));
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
  json_t *responses = json_pack("{s:o}", "200", ok);
  oa_error_responses(c, responses, traits);
  json_object_set_new(op, "responses", responses);
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

static int oa_traits(const route *r, const oa_route_path *rp, const char *verb) {
  int traits = OA_ANY;
  if (!r->method->access_public) traits |= OA_SIGNED_IN;
  if (rp->n_vars > 0) traits |= OA_HAS_PATH_VAR;
  if (strcmp(verb, "get") != 0 && strcmp(verb, "head") != 0 && strcmp(verb, "options") != 0) traits |= OA_WRITE;
  return traits;
}

/* One tag per service that has an operation, described by its file's opening comment and its
 * own comment. */
static json_t *oa_tags(oa_ctx *c, json_t *used) {
  json_t *tags = json_array();
  const descset_service *services;
  int n = descset_services(c->d, &services);
  for (int i = 0; i < n; i++) {
    const char *name = oa_short_name(services[i].full_name);
    if (!json_object_get(used, name)) continue;
    json_object_del(used, name);
    const char *file = services[i].file ? oa_comment(c, services[i].file) : NULL;
    const char *own = oa_comment(c, services[i].full_name);
    json_t *tag = json_pack("{s:s}", "name", name);
    if (file || own)
      json_object_set_new(tag, "description",
                          json_string(file && own ? arena_printf(c->a, "%s\n\n%s", file, own) : file ? file : own));
    json_array_append_new(tags, tag);
  }
  return tags;
}

static json_t *oa_servers(void) {
  return json_pack("[{s:s, s:s}, {s:s, s:s, s:{s:{s:s, s:s}}}]", "url", "/", "description",
                   "The gateway serving this document.", "url", "https://{host}", "description",
                   "Production: the gateway behind the Helm chart's ingress (ingress.host).", "variables", "host",
                   "default", "metro.example.com", "description", "The ingress host name.");
}

json_t *openapi_build(const descset *d, const route_table *t, const char *title, const char *version) {
  oa_ctx c = {.d = d,
              .a = arena_create(1 << 16),
              .schemas = json_object(),
              .pending = json_array(),
              .comments = json_object(),
              .responses = json_object(),
              .op_ids = json_object()};
  oa_index_comments(&c);
  const route *routes;
  int n = route_table_routes(t, &routes);

  /* First every route's shape, then one set of names per shape, then the operations. */
  oa_route_path *rps = arena_alloc(c.a, sizeof *rps * (size_t)(n > 0 ? n : 1));
  char (*keys)[16] = arena_alloc(c.a, sizeof *keys * (size_t)(n > 0 ? n : 1));
  json_t *names_by_shape = json_object();
  for (int i = 0; i < n; i++) {
    rps[i].usable = oa_method_key(routes[i].http_method, keys[i], sizeof keys[i]) && /* no OpenAPI verb for it */
                    oa_route_shape(&c, &routes[i], &rps[i]);
    if (rps[i].usable) oa_vote_names(names_by_shape, &rps[i]);
  }
  oa_unique_names(names_by_shape);

  json_t *paths = json_object(), *used_tags = json_object();
  for (int i = 0; i < n; i++) {
    const route *r = &routes[i];
    oa_route_path *rp = &rps[i];
    if (rp->usable) {
      json_t *params = json_array();
      const char *path = oa_render_path(&c, rp, json_object_get(names_by_shape, rp->shape), params);
      json_t *item = json_object_get(paths, path);
      if (!item) {
        item = json_object();
        json_object_set_new(paths, path, item);
      }
      if (json_object_get(item, keys[i])) { /* two templates differing only in variable patterns */
        json_decref(params);
      } else {
        json_object_set_new(item, keys[i], oa_operation(&c, r, params, oa_traits(r, rp, keys[i])));
        json_object_set_new(used_tags, oa_short_name(r->method->service), json_true());
      }
    }
    for (int k = 0; k < rp->n_vars; k++) json_decref(rp->vars[k].schema); /* those not rendered */
  }
  json_decref(names_by_shape);
  oa_drain(&c);
  json_object_set_new(c.schemas, OA_STATUS_SCHEMA, oa_status_schema());

  json_t *components = json_pack(
      "{s:o, s:o, s:{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}}", "schemas", c.schemas, "responses",
      c.responses, "securitySchemes", "bearerAuth", "type", "http", "scheme", "bearer", "bearerFormat", "JWT",
      "description", "An access token from POST /v1/auth/login: `Authorization: Bearer <accessToken>`.", "apiKeyAuth",
      "type", "apiKey", "in", "header", "name", "X-API-Key", "description",
      "A machine client's API key (`mk_<key id>_<secret>`), instead of a token; never both.");
  json_t *doc = json_pack(
      "{s:s, s:{s:s, s:s, s:s}, s:o, s:o, s:[{s:[]}, {s:[]}], s:o, s:o}", "openapi", "3.0.3", "info", "title",
      title ? title : "Metro API", "version", version ? version : "v1", "description",
      "The REST mapping of Metro's gRPC services, generated by the gateway from the protos' google.api.http "
      "annotations and comments. Errors are google.rpc.Status; see docs/api.md.",
      "servers", oa_servers(), "tags", oa_tags(&c, used_tags), "security", "bearerAuth", "apiKeyAuth", "paths",
      paths, "components", components);
  json_decref(used_tags);
  json_decref(c.pending);
  json_decref(c.comments);
  json_decref(c.op_ids);
  arena_destroy(c.a);
  return doc;
}
