/* Per-call arena: a chain of blocks handed out by bumping a pointer, plus a list of
 * deferred destructors; everything is released together by arena_destroy. Also the
 * growable string built on it (arena_buf). */
#include "common/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_MIN_BLOCK 4096

typedef struct arena_block {
  struct arena_block *next;
  size_t size;
  size_t used;
  _Alignas(ARENA_ALIGN) unsigned char data[];
} arena_block;

typedef struct arena_deferred {
  struct arena_deferred *next;
  void (*fn)(void *);
  void *ptr;
} arena_deferred;

struct arena {
  arena_block *head;
  arena_deferred *deferred;
  size_t total;
};

static void *xcalloc(size_t n) {
  void *p = calloc(1, n);
  if (!p) {
    fputs("arena: out of memory\n", stderr);
    abort();
  }
  return p;
}

static arena_block *block_new(size_t size) {
  arena_block *b = xcalloc(sizeof(arena_block) + size);
  b->size = size;
  return b;
}

arena *arena_create(size_t first_block) {
  arena *a = xcalloc(sizeof(arena));
  a->head = block_new(first_block < ARENA_MIN_BLOCK ? ARENA_MIN_BLOCK : first_block);
  return a;
}

void arena_destroy(arena *a) {
  if (!a) return;
  for (arena_deferred *d = a->deferred; d; d = d->next) d->fn(d->ptr);
  arena_block *b = a->head;
  while (b) {
    arena_block *next = b->next;
    free(b);
    b = next;
  }
  free(a);
}

void *arena_alloc(arena *a, size_t size) {
  if (size == 0) size = 1;
  size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (rounded < size) abort(); /* overflow */
  arena_block *b = a->head;
  if (b->size - b->used < rounded) {
    size_t want = b->size * 2;
    if (want < rounded) want = rounded;
    arena_block *nb = block_new(want);
    nb->next = a->head;
    a->head = nb;
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += rounded;
  a->total += rounded;
  return p; /* blocks are calloc'ed and never reused, so memory is zeroed */
}

char *arena_strndup(arena *a, const char *s, size_t n) {
  n = strnlen(s, n); /* as POSIX strndup: never reads past a NUL, so n may exceed the string */
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *arena_strdup(arena *a, const char *s) { return s ? arena_strndup(a, s, strlen(s)) : NULL; }

char *arena_vprintf(arena *a, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) return arena_strdup(a, "");
  char *p = arena_alloc(a, (size_t)n + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *arena_printf(arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = arena_vprintf(a, fmt, ap);
  va_end(ap);
  return p;
}

void arena_defer(arena *a, void (*fn)(void *), void *ptr) {
  arena_deferred *d = arena_alloc(a, sizeof(*d));
  d->fn = fn;
  d->ptr = ptr;
  d->next = a->deferred;
  a->deferred = d;
}

static void *pb_alloc(void *data, size_t size) { return arena_alloc(data, size); }
static void pb_free(void *data, void *ptr) {
  (void)data;
  (void)ptr;
}

ProtobufCAllocator arena_protobuf_allocator(arena *a) {
  return (ProtobufCAllocator){.alloc = pb_alloc, .free = pb_free, .allocator_data = a};
}

size_t arena_used(const arena *a) { return a->total; }

#define ARENA_BUF_FIRST 256

void arena_buf_reserve(arena_buf *b, size_t extra) {
  if (extra > SIZE_MAX - 1 - b->len) abort(); /* overflow */
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : ARENA_BUF_FIRST;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *data = arena_alloc(b->a, cap);
  if (b->len) memcpy(data, b->data, b->len);
  data[b->len] = '\0';
  b->data = data;
  b->cap = cap;
}

void arena_buf_append(arena_buf *b, const char *s, size_t n) {
  arena_buf_reserve(b, n);
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void arena_buf_puts(arena_buf *b, const char *s) { arena_buf_append(b, s, strlen(s)); }

void arena_buf_putc(arena_buf *b, char c) { arena_buf_append(b, &c, 1); }

void arena_buf_printf(arena_buf *b, const char *fmt, ...) {
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n > 0) {
    arena_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    b->len += (size_t)n;
  }
  va_end(again);
}

char *arena_buf_str(arena_buf *b) {
  if (!b->data) arena_buf_reserve(b, 0); /* an empty string of the arena's, not a literal */
  return b->data;
}
