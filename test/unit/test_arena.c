/* Unit tests of common/arena's growable string (arena_buf): an empty one reads as "", growth by
 * doubling keeps what was written and the NUL, printf of any length, bytes with NULs inside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/arena.h"

static void test_empty_buffer_reads_as_an_empty_string(void **state) {
  (void)state;
  arena *a = arena_create(0);
  arena_buf b = {.a = a};
  char *s = arena_buf_str(&b);
  assert_non_null(s);
  assert_string_equal(s, "");
  assert_int_equal(b.len, 0);
  s[0] = '\0'; /* the arena's own memory, not a literal */

  arena_buf printed = {.a = a};
  arena_buf_printf(&printed, "%s", ""); /* prints nothing */
  assert_string_equal(arena_buf_str(&printed), "");
  assert_int_equal(printed.len, 0);
  arena_destroy(a);
}

static void test_reserve_terminates_and_leaves_room(void **state) {
  (void)state;
  arena *a = arena_create(0);
  arena_buf b = {.a = a};
  arena_buf_reserve(&b, 0);
  assert_non_null(b.data);
  assert_string_equal(b.data, "");
  arena_buf_reserve(&b, 1000);
  assert_true(b.cap >= 1001);
  char *before = b.data;
  for (int i = 0; i < 1000; i++) arena_buf_putc(&b, 'x');
  assert_ptr_equal(b.data, before); /* reserved room: no move */
  assert_int_equal(b.len, 1000);
  assert_int_equal(strlen(b.data), 1000);
  arena_destroy(a);
}

/* Many small appends across many doublings (and arena blocks): every byte kept, always NUL-terminated,
 * the capacity only doubling from its first size. */
static void test_growth_across_many_appends(void **state) {
  (void)state;
  arena *a = arena_create(0);
  arena_buf b = {.a = a};
  size_t first_cap = 0, moves = 0;
  char *last = NULL;
  for (size_t i = 0; i < 20000; i++) {
    char piece[8];
    int n = snprintf(piece, sizeof piece, "%zu,", i % 1000);
    if (i % 3 == 0)
      arena_buf_append(&b, piece, (size_t)n);
    else if (i % 3 == 1)
      arena_buf_puts(&b, piece);
    else
      for (int k = 0; k < n; k++) arena_buf_putc(&b, piece[k]);
    if (!first_cap) first_cap = b.cap;
    if (b.data != last) moves++, last = b.data;
    assert_true(b.len < b.cap);
    assert_int_equal(b.data[b.len], '\0');
    size_t ratio = b.cap / first_cap;
    assert_int_equal(b.cap % first_cap, 0);
    assert_int_equal(ratio & (ratio - 1), 0); /* first_cap times a power of two */
  }
  assert_true(moves > 5);
  assert_int_equal(strlen(arena_buf_str(&b)), b.len);
  const char *p = arena_buf_str(&b);
  for (size_t i = 0; i < 20000; i++) {
    char piece[8];
    int n = snprintf(piece, sizeof piece, "%zu,", i % 1000);
    assert_memory_equal(p, piece, (size_t)n);
    p += n;
  }
  assert_int_equal(*p, '\0');
  arena_destroy(a);
}

static void test_printf_appends_formatted_text_of_any_length(void **state) {
  (void)state;
  arena *a = arena_create(0);
  arena_buf b = {.a = a};
  arena_buf_puts(&b, "total=");
  arena_buf_printf(&b, "%d %s %.2f %" PRId64, 42, "VND", 1.5, (int64_t)-1250000);
  assert_string_equal(arena_buf_str(&b), "total=42 VND 1.50 -1250000");
  assert_int_equal(b.len, strlen("total=42 VND 1.50 -1250000"));

  char big[10001];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  arena_buf_printf(&b, "[%s]", big); /* far beyond the current capacity in one call */
  assert_int_equal(b.len, strlen("total=42 VND 1.50 -1250000") + 10002);
  assert_int_equal(strlen(b.data), b.len);
  assert_memory_equal(b.data + b.len - 3, "zz]", 3);
  assert_true(b.len < b.cap);
  arena_destroy(a);
}

static void test_append_keeps_bytes_after_a_nul(void **state) {
  (void)state;
  arena *a = arena_create(0);
  arena_buf b = {.a = a};
  arena_buf_append(&b, "a\0b", 3);
  arena_buf_append(&b, "ignored", 0);
  assert_int_equal(b.len, 3);
  assert_memory_equal(b.data, "a\0b\0", 4);
  arena_destroy(a);
}

static void test_buffers_share_an_arena(void **state) {
  (void)state;
  arena *a = arena_create(0);
  arena_buf x = {.a = a}, y = {.a = a};
  for (int i = 0; i < 500; i++) {
    arena_buf_printf(&x, "x%d", i);
    arena_buf_printf(&y, "y%d", i);
  }
  assert_memory_equal(x.data, "x0x1x2", 6);
  assert_memory_equal(y.data, "y0y1y2", 6);
  assert_null(strchr(x.data, 'y'));
  assert_null(strchr(y.data, 'x'));
  arena_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_buffer_reads_as_an_empty_string),
      cmocka_unit_test(test_reserve_terminates_and_leaves_room),
      cmocka_unit_test(test_growth_across_many_appends),
      cmocka_unit_test(test_printf_appends_formatted_text_of_any_length),
      cmocka_unit_test(test_append_keeps_bytes_after_a_nul),
      cmocka_unit_test(test_buffers_share_an_arena),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
