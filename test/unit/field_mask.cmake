# Unit tests of the shared AIP-134 update-mask helper (common/field_mask.c): path matching
# and the bits, unknown and read-only answers, with only the common/ sources it needs.
metro_unit_test(test_field_mask
  SOURCES common/field_mask.c common/status.c common/arena.c common/log.c common/text.c
  LIBS PkgConfig::JANSSON PkgConfig::GRPC)
