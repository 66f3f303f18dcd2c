# Unit tests of two common/ modules every service leans on: the per-call arena's growable string
# and the strict UTF-8 decoder of common/text; each compiles only the source it proves.
metro_unit_test(test_arena SOURCES common/arena.c)
metro_unit_test(test_text SOURCES common/text.c)
