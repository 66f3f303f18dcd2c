/* Descriptor-set index: splits FileDescriptorSets into files, indexes every symbol in sorted
 * arrays for bsearch, and decodes the method options (http/access from unknown fields). */
#include "common/descset.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "metro/api/v1/access.pb-c.h"

#define DS_MAX_NESTING 64

typedef enum {
  DS_SYM_PACKAGE,
  DS_SYM_MESSAGE,
  DS_SYM_FIELD,
  DS_SYM_ENUM,
  DS_SYM_ENUM_VALUE,
  DS_SYM_SERVICE,
  DS_SYM_METHOD,
  DS_SYM_EXTENSION,
} ds_symbol_kind;

typedef struct ds_symbol {
  const char *name;
  size_t seq; /* insertion order: ties resolve to the first declaration */
  int file;
  ds_symbol_kind kind;
  const void *ptr;
} ds_symbol;

typedef struct ds_extension {
  const char *extendee; /* without leading dot */
  int32_t number;
  int file;
} ds_extension;

typedef struct ds_file {
  const char *name;
  const uint8_t *bytes;
  size_t len;
  Google__Protobuf__FileDescriptorProto *proto;
} ds_file;

/* A growable array of fixed-size elements (malloc'ed; moved into the arena when done). */
typedef struct ds_vec {
  void *items;
  size_t n, cap, elem;
} ds_vec;

struct descset {
  arena *mem; /* owns everything below */
  ds_file *files;
  size_t n_files;
  const char **file_names; /* load order */
  const ds_file **files_by_name; /* sorted by name */
  ds_symbol *symbols;      /* sorted by (name, seq) */
  size_t n_symbols;
  ds_extension *extensions; /* sorted by (extendee, number) */
  size_t n_extensions;
  descset_service *services;
  size_t n_services;
  const descset_method **methods_by_path; /* sorted by path */
  size_t n_methods;
};

typedef struct ds_builder {
  descset *d;
  ds_vec symbols;
  ds_vec extensions;
  char *err;
  size_t errlen;
  bool failed;
} ds_builder;

static void ds_fail(ds_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ds_fail(ds_builder *b, const char *fmt, ...) {
  if (b->failed) return;
  b->failed = true;
  if (!b->err || b->errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err, b->errlen, fmt, ap);
  va_end(ap);
}

static void *ds_vec_push(ds_vec *v) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 64;
    void *items = realloc(v->items, cap * v->elem);
    if (!items) abort();
    v->items = items;
    v->cap = cap;
  }
  void *slot = (char *)v->items + v->n * v->elem;
  memset(slot, 0, v->elem);
  v->n++;
  return slot;
}

static void *ds_vec_to_arena(ds_vec *v, arena *a) {
  void *out = arena_alloc(a, v->n * v->elem);
  if (v->n) memcpy(out, v->items, v->n * v->elem);
  free(v->items);
  v->items = NULL;
  v->cap = 0;
  return out;
}

static const char *ds_strip_dot(const char *name) {
  return (name && name[0] == '.') ? name + 1 : name;
}

static const char *ds_join(arena *a, const char *scope, const char *name) {
  if (!scope || !scope[0]) return arena_strdup(a, name ? name : "");
  return arena_printf(a, "%s.%s", scope, name ? name : "");
}

/* ---- wire format helpers ---- */

static bool ds_read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
    uint8_t byte = p[(*pos)++];
    v |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

/* Reads the field at *pos of a serialized message: its number, and where it starts and ends
 * (key included), with a length-delimited field's payload in *payload / *payload_len. */
typedef struct ds_field {
  uint32_t number;
  size_t start, end;
  const uint8_t *payload; /* wire type 2 only, else NULL */
  size_t payload_len;
} ds_field;

static bool ds_next_field(const uint8_t *p, size_t len, size_t *pos, ds_field *f) {
  uint64_t key, n = 0;
  size_t step = 0;
  f->start = *pos;
  f->payload = NULL;
  if (!ds_read_varint(p, len, pos, &key)) return false;
  f->number = (uint32_t)(key >> 3);
  switch (key & 7) {
    case 0:
      if (!ds_read_varint(p, len, pos, &n)) return false;
      break;
    case 1: step = 8; break;
    case 5: step = 4; break;
    case 2:
      if (!ds_read_varint(p, len, pos, &n) || n > len - *pos) return false;
      step = (size_t)n;
      f->payload = p + *pos;
      f->payload_len = step;
      break;
    default: return false;
  }
  if (step > len - *pos) return false;
  *pos += step;
  f->end = *pos;
  return true;
}

/* Calls on_file for each field-1 (file) entry of a serialized FileDescriptorSet. */
static bool ds_split_set(ds_builder *b, const uint8_t *p, size_t len,
                         void (*on_file)(ds_builder *, const uint8_t *, size_t)) {
  size_t pos = 0;
  ds_field f;
  while (pos < len) {
    if (!ds_next_field(p, len, &pos, &f)) return false;
    if (f.number == 1 && f.payload) on_file(b, f.payload, f.payload_len);
    if (b->failed) return true;
  }
  return true;
}

/* A FileDescriptorProto's bytes without its SourceCodeInfo (field 9: the comments and spans,
 * most of the set's size once unpacked) into out (len bytes at most); the new length, or 0
 * when the bytes are malformed (unpacking them as they are then reports it). */
static size_t ds_strip_source_info(const uint8_t *p, size_t len, uint8_t *out) {
  size_t pos = 0, n = 0;
  ds_field f;
  while (pos < len) {
    if (!ds_next_field(p, len, &pos, &f)) return 0;
    if (f.number == 9 && f.payload) continue;
    memcpy(out + n, p + f.start, f.end - f.start);
    n += f.end - f.start;
  }
  return n;
}

/* The payload of a length-delimited extension found among a message's unknown fields; several
 * occurrences are concatenated, which is protobuf's merge of a message field. */
static bool ds_extension_payload(arena *a, const ProtobufCMessage *m, uint32_t number,
                                 const uint8_t **out, size_t *out_len, bool *malformed) {
  size_t total = 0;
  uint8_t *buf = NULL;
  *malformed = false;
  for (int pass = 0; pass < 2; pass++) {
    size_t at = 0;
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
      const ProtobufCMessageUnknownField *f = &m->unknown_fields[i];
      if (f->tag != number) continue;
      size_t pos = 0;
      uint64_t n;
      /* protobuf-c keeps the length prefix in the data of a length-delimited unknown field */
      if (f->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
          !ds_read_varint(f->data, f->len, &pos, &n) || n != f->len - pos) {
        *malformed = true;
        return false;
      }
      if (pass == 0)
        total += (size_t)n;
      else {
        memcpy(buf + at, f->data + pos, (size_t)n);
        at += (size_t)n;
      }
    }
    if (pass == 0) {
      bool found = false;
      for (unsigned i = 0; i < m->n_unknown_fields; i++) found |= m->unknown_fields[i].tag == number;
      if (!found) return false;
      buf = arena_alloc(a, total);
    }
  }
  *out = buf;
  *out_len = total;
  return true;
}

/* ---- building ---- */

static void ds_add_symbol(ds_builder *b, const char *name, int file, ds_symbol_kind kind,
                          const void *ptr) {
  ds_symbol *s = ds_vec_push(&b->symbols);
  s->name = name;
  s->seq = b->symbols.n;
  s->file = file;
  s->kind = kind;
  s->ptr = ptr;
}

static void ds_add_extensions(ds_builder *b, Google__Protobuf__FieldDescriptorProto **ext, size_t n,
                              const char *scope, int file) {
  for (size_t i = 0; i < n; i++) {
    ds_add_symbol(b, ds_join(b->d->mem, scope, ext[i]->name), file, DS_SYM_EXTENSION, ext[i]);
    if (!ext[i]->extendee) continue;
    ds_extension *e = ds_vec_push(&b->extensions);
    e->extendee = ds_strip_dot(ext[i]->extendee);
    e->number = ext[i]->number;
    e->file = file;
  }
}

static void ds_add_enum(ds_builder *b, const Google__Protobuf__EnumDescriptorProto *en,
                        const char *scope, int file) {
  ds_add_symbol(b, ds_join(b->d->mem, scope, en->name), file, DS_SYM_ENUM, en);
  /* enum values live in the scope enclosing the enum, as in C++ */
  for (size_t i = 0; i < en->n_value; i++)
    ds_add_symbol(b, ds_join(b->d->mem, scope, en->value[i]->name), file, DS_SYM_ENUM_VALUE,
                  en->value[i]);
}

static void ds_add_message(ds_builder *b, const Google__Protobuf__DescriptorProto *msg,
                           const char *scope, int file, int depth) {
  if (depth > DS_MAX_NESTING) {
    ds_fail(b, "descriptor set: messages nested deeper than %d in %s", DS_MAX_NESTING, scope);
    return;
  }
  const char *full = ds_join(b->d->mem, scope, msg->name);
  ds_add_symbol(b, full, file, DS_SYM_MESSAGE, msg);
  for (size_t i = 0; i < msg->n_field; i++)
    ds_add_symbol(b, ds_join(b->d->mem, full, msg->field[i]->name), file, DS_SYM_FIELD,
                  msg->field[i]);
  for (size_t i = 0; i < msg->n_nested_type; i++)
    ds_add_message(b, msg->nested_type[i], full, file, depth + 1);
  for (size_t i = 0; i < msg->n_enum_type; i++) ds_add_enum(b, msg->enum_type[i], full, file);
  ds_add_extensions(b, msg->extension, msg->n_extension, full, file);
}

static void ds_on_file(ds_builder *b, const uint8_t *bytes, size_t len) {
  descset *d = b->d;
  ProtobufCAllocator alloc = arena_protobuf_allocator(d->mem);
  /* Unpacked without comments: the raw bytes (kept for reflection and the OpenAPI prose) have them. */
  uint8_t *lean = malloc(len ? len : 1);
  size_t lean_len = lean ? ds_strip_source_info(bytes, len, lean) : 0;
  Google__Protobuf__FileDescriptorProto *fp =
      lean_len ? google__protobuf__file_descriptor_proto__unpack(&alloc, lean_len, lean)
               : google__protobuf__file_descriptor_proto__unpack(&alloc, len, bytes);
  free(lean);
  if (!fp || !fp->name) {
    ds_fail(b, "descriptor set: file %zu is not a valid FileDescriptorProto", d->n_files);
    return;
  }
  for (size_t i = 0; i < d->n_files; i++)
    if (strcmp(d->files[i].name, fp->name) == 0) return; /* merged: first one wins */
  ds_file *f = &d->files[d->n_files++];
  f->name = fp->name;
  f->bytes = bytes;
  f->len = len;
  f->proto = fp;
}

static size_t ds_count_files(const uint8_t *p, size_t len) {
  size_t n = 0, pos = 0;
  ds_field f;
  while (pos < len && ds_next_field(p, len, &pos, &f))
    if (f.number == 1 && f.payload) n++;
  return n;
}

static void ds_read_options(ds_builder *b, descset_method *m,
                            const Google__Protobuf__MethodOptions *opts) {
  if (!opts) return;
  if (opts->has_idempotency_level) {
    m->idempotency_level = opts->idempotency_level;
    m->idempotent = opts->idempotency_level == GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__NO_SIDE_EFFECTS ||
                    opts->idempotency_level == GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__IDEMPOTENT;
  }
  arena *a = b->d->mem;
  ProtobufCAllocator alloc = arena_protobuf_allocator(a);
  const uint8_t *data;
  size_t len;
  bool bad;
  if (ds_extension_payload(a, &opts->base, DESCSET_EXT_HTTP, &data, &len, &bad)) {
    m->http = google__api__http_rule__unpack(&alloc, len, data);
    if (!m->http) bad = true;
  }
  if (bad) {
    ds_fail(b, "descriptor set: malformed google.api.http option on %s", m->path);
    return;
  }
  if (ds_extension_payload(a, &opts->base, DESCSET_EXT_ACCESS, &data, &len, &bad)) {
    Metro__Api__V1__MethodAccess *acc = metro__api__v1__method_access__unpack(&alloc, len, data);
    if (!acc) bad = true;
    else {
      m->access_public = acc->public_;
      m->roles = (const char *const *)acc->roles;
      m->n_roles = (int)acc->n_roles;
    }
  }
  if (bad) ds_fail(b, "descriptor set: malformed metro.api.v1.access option on %s", m->path);
}

static int ds_cmp_symbol(const void *x, const void *y) {
  const ds_symbol *a = x, *b = y;
  int c = strcmp(a->name, b->name);
  if (c) return c;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int ds_cmp_extension(const void *x, const void *y) {
  const ds_extension *a = x, *b = y;
  int c = strcmp(a->extendee, b->extendee);
  if (c) return c;
  return a->number < b->number ? -1 : a->number > b->number;
}

static int ds_cmp_file_name(const void *x, const void *y) {
  return strcmp((*(const ds_file *const *)x)->name, (*(const ds_file *const *)y)->name);
}

static int ds_cmp_method_path(const void *x, const void *y) {
  return strcmp((*(const descset_method *const *)x)->path, (*(const descset_method *const *)y)->path);
}

static void ds_index_services(ds_builder *b) {
  descset *d = b->d;
  size_t n_services = 0, n_methods = 0;
  for (size_t i = 0; i < d->n_files; i++) {
    const Google__Protobuf__FileDescriptorProto *fp = d->files[i].proto;
    n_services += fp->n_service;
    for (size_t s = 0; s < fp->n_service; s++) n_methods += fp->service[s]->n_method;
  }
  d->services = arena_alloc(d->mem, (n_services + 1) * sizeof(*d->services));
  descset_method *methods = arena_alloc(d->mem, (n_methods + 1) * sizeof(*methods));
  d->methods_by_path = arena_alloc(d->mem, (n_methods + 1) * sizeof(*d->methods_by_path));
  size_t mi = 0;
  for (size_t i = 0; i < d->n_files && !b->failed; i++) {
    const Google__Protobuf__FileDescriptorProto *fp = d->files[i].proto;
    for (size_t s = 0; s < fp->n_service; s++) {
      const Google__Protobuf__ServiceDescriptorProto *sp = fp->service[s];
      descset_service *svc = &d->services[d->n_services++];
      svc->full_name = ds_join(d->mem, fp->package, sp->name);
      svc->file = fp->name;
      svc->methods = &methods[mi];
      svc->n_methods = (int)sp->n_method;
      ds_add_symbol(b, svc->full_name, (int)i, DS_SYM_SERVICE, sp);
      for (size_t k = 0; k < sp->n_method; k++) {
        const Google__Protobuf__MethodDescriptorProto *mp = sp->method[k];
        descset_method *m = &methods[mi++];
        m->name = mp->name ? mp->name : "";
        m->service = svc->full_name;
        m->path = arena_printf(d->mem, "/%s/%s", svc->full_name, m->name);
        m->input_type = ds_strip_dot(mp->input_type ? mp->input_type : "");
        m->output_type = ds_strip_dot(mp->output_type ? mp->output_type : "");
        m->client_streaming = mp->client_streaming;
        m->server_streaming = mp->server_streaming;
        ds_read_options(b, m, mp->options);
        d->methods_by_path[d->n_methods++] = m;
        ds_add_symbol(b, ds_join(d->mem, svc->full_name, m->name), (int)i, DS_SYM_METHOD, mp);
      }
    }
  }
  qsort(d->methods_by_path, d->n_methods, sizeof(*d->methods_by_path), ds_cmp_method_path);
}

static void ds_index_symbols(ds_builder *b) {
  descset *d = b->d;
  for (size_t i = 0; i < d->n_files && !b->failed; i++) {
    const Google__Protobuf__FileDescriptorProto *fp = d->files[i].proto;
    const char *pkg = fp->package ? fp->package : "";
    if (pkg[0]) {
      /* every enclosing package too: "metro" and "metro.auth" name the file as well */
      ds_add_symbol(b, pkg, (int)i, DS_SYM_PACKAGE, fp);
      for (const char *dot = strchr(pkg, '.'); dot; dot = strchr(dot + 1, '.'))
        ds_add_symbol(b, arena_strndup(d->mem, pkg, (size_t)(dot - pkg)), (int)i, DS_SYM_PACKAGE, fp);
    }
    for (size_t k = 0; k < fp->n_message_type; k++) ds_add_message(b, fp->message_type[k], pkg, (int)i, 0);
    for (size_t k = 0; k < fp->n_enum_type; k++) ds_add_enum(b, fp->enum_type[k], pkg, (int)i);
    ds_add_extensions(b, fp->extension, fp->n_extension, pkg, (int)i);
  }
}

descset *descset_load(const uint8_t *const *sets, const size_t *lens, int n_sets, char *err,
                      size_t errlen) {
  if (err && errlen) err[0] = '\0';
  descset *d = calloc(1, sizeof(*d));
  if (!d) return NULL;
  d->mem = arena_create(64 * 1024);
  ds_builder b = {.d = d, .err = err, .errlen = errlen};
  b.symbols.elem = sizeof(ds_symbol);
  b.extensions.elem = sizeof(ds_extension);

  size_t max_files = 0;
  const uint8_t **copies = arena_alloc(d->mem, (size_t)(n_sets > 0 ? n_sets : 1) * sizeof(*copies));
  for (int i = 0; i < n_sets; i++) {
    if (!sets[i] && lens[i]) {
      ds_fail(&b, "descriptor set %d: NULL data", i);
      break;
    }
    uint8_t *copy = arena_alloc(d->mem, lens[i]);
    if (lens[i]) memcpy(copy, sets[i], lens[i]);
    copies[i] = copy;
    max_files += ds_count_files(copy, lens[i]);
  }
  d->files = arena_alloc(d->mem, (max_files + 1) * sizeof(*d->files));
  for (int i = 0; i < n_sets && !b.failed; i++)
    if (!ds_split_set(&b, copies[i], lens[i], ds_on_file))
      ds_fail(&b, "descriptor set %d: malformed FileDescriptorSet", i);

  if (!b.failed) {
    d->file_names = arena_alloc(d->mem, (d->n_files + 1) * sizeof(*d->file_names));
    d->files_by_name = arena_alloc(d->mem, (d->n_files + 1) * sizeof(*d->files_by_name));
    for (size_t i = 0; i < d->n_files; i++) {
      d->file_names[i] = d->files[i].name;
      d->files_by_name[i] = &d->files[i];
    }
    qsort(d->files_by_name, d->n_files, sizeof(*d->files_by_name), ds_cmp_file_name);
    ds_index_symbols(&b);
    ds_index_services(&b);
  }
  d->n_symbols = b.symbols.n;
  d->symbols = ds_vec_to_arena(&b.symbols, d->mem);
  d->n_extensions = b.extensions.n;
  d->extensions = ds_vec_to_arena(&b.extensions, d->mem);
  if (b.failed) {
    descset_free(d);
    return NULL;
  }
  qsort(d->symbols, d->n_symbols, sizeof(ds_symbol), ds_cmp_symbol);
  qsort(d->extensions, d->n_extensions, sizeof(ds_extension), ds_cmp_extension);
  return d;
}

void descset_free(descset *d) {
  if (!d) return;
  arena_destroy(d->mem);
  free(d);
}

/* ---- lookups ---- */

static const ds_file *ds_find_file(const descset *d, const char *name) {
  if (!d || !name) return NULL;
  size_t lo = 0, hi = d->n_files;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(d->files_by_name[mid]->name, name);
    if (c == 0) return d->files_by_name[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* The first symbol named `name` (leading dot tolerated) whose kind passes `want` (-1: any). */
static const ds_symbol *ds_find_symbol(const descset *d, const char *name, int want) {
  if (!d || !name) return NULL;
  name = ds_strip_dot(name);
  size_t lo = 0, hi = d->n_symbols;
  while (lo < hi) { /* lower bound */
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(d->symbols[mid].name, name) < 0) lo = mid + 1;
    else hi = mid;
  }
  for (size_t i = lo; i < d->n_symbols && strcmp(d->symbols[i].name, name) == 0; i++)
    if (want < 0 || d->symbols[i].kind == (ds_symbol_kind)want) return &d->symbols[i];
  return NULL;
}

bool descset_file_bytes(const descset *d, const char *file_name, const uint8_t **data, size_t *len) {
  const ds_file *f = ds_find_file(d, file_name);
  if (!f) return false;
  *data = f->bytes;
  *len = f->len;
  return true;
}

int descset_files(const descset *d, const char *const **names) {
  *names = d->file_names;
  return (int)d->n_files;
}

const char *descset_file_of_symbol(const descset *d, const char *symbol) {
  const ds_symbol *s = ds_find_symbol(d, symbol, -1);
  return s ? d->files[s->file].name : NULL;
}

const char *descset_file_of_extension(const descset *d, const char *extendee, int32_t number) {
  if (!d || !extendee) return NULL;
  ds_extension key = {.extendee = ds_strip_dot(extendee), .number = number};
  const ds_extension *e =
      bsearch(&key, d->extensions, d->n_extensions, sizeof(ds_extension), ds_cmp_extension);
  return e ? d->files[e->file].name : NULL;
}

int descset_file_deps(const descset *d, const char *file_name, const char *const **deps) {
  const ds_file *f = ds_find_file(d, file_name);
  if (!f) {
    *deps = NULL;
    return -1;
  }
  *deps = (const char *const *)f->proto->dependency;
  return (int)f->proto->n_dependency;
}

int descset_services(const descset *d, const descset_service **out) {
  *out = d->services;
  return (int)d->n_services;
}

const descset_method *descset_find_method(const descset *d, const char *path) {
  if (!d || !path) return NULL;
  size_t lo = 0, hi = d->n_methods;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(d->methods_by_path[mid]->path, path);
    if (c == 0) return d->methods_by_path[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

const Google__Protobuf__DescriptorProto *descset_message(const descset *d, const char *full_name) {
  const ds_symbol *s = ds_find_symbol(d, full_name, DS_SYM_MESSAGE);
  return s ? s->ptr : NULL;
}

const Google__Protobuf__EnumDescriptorProto *descset_enum(const descset *d, const char *full_name) {
  const ds_symbol *s = ds_find_symbol(d, full_name, DS_SYM_ENUM);
  return s ? s->ptr : NULL;
}
