/* Per-call memory arena (the nginx pool): allocate freely while serving one call,
 * free everything at once when it ends. Not thread-safe; one arena per call. */
#ifndef METRO_ARENA_H
#define METRO_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

/* A new arena whose first block holds at least `first_block` bytes. Aborts on OOM. */
arena *arena_create(size_t first_block);
/* Frees every allocation and the arena itself. NULL is ignored. */
void arena_destroy(arena *a);

/* Zeroed memory aligned for any type, valid until arena_destroy. Aborts on OOM. */
void *arena_alloc(arena *a, size_t size);
char *arena_strdup(arena *a, const char *s);
/* At most n bytes of s, stopping at a NUL (POSIX strndup), NUL-terminated. */
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);
/* Registers a destructor run (in reverse order) by arena_destroy, for memory owned
 * elsewhere (a PGresult, a json_t) whose lifetime must end with the call. */
void arena_defer(arena *a, void (*fn)(void *), void *ptr);

/* A protobuf-c allocator drawing from the arena; its free is a no-op. */
ProtobufCAllocator arena_protobuf_allocator(arena *a);

/* Bytes handed out so far (for metrics and tests). */
size_t arena_used(const arena *a);

/* A growable NUL-terminated string in an arena: start with `arena_buf b = {.a = a};`. Growth
 * doubles the capacity into a new block (old blocks die with the arena); once anything was
 * reserved, data is NUL-terminated and len excludes the NUL. Aborts on OOM. */
typedef struct arena_buf {
  arena *a;
  char *data;
  size_t len, cap;
} arena_buf;

/* Room for `extra` more bytes plus the NUL. */
void arena_buf_reserve(arena_buf *b, size_t extra);
/* n bytes of s (which may hold NULs). */
void arena_buf_append(arena_buf *b, const char *s, size_t n);
void arena_buf_puts(arena_buf *b, const char *s);
void arena_buf_putc(arena_buf *b, char c);
void arena_buf_printf(arena_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string so far ("" when empty, never NULL: an empty buffer gets its first block). */
char *arena_buf_str(arena_buf *b);

#endif
