# Unit test of the proto3 JSON mapping (common/pjson*.c) over metro.testing.v1 and the
# standard protos; compiles only the common/ sources it needs.
metro_unit_test(test_pjson
  SOURCES common/pjson.c common/pjson_wkt.c common/b64.c common/text.c common/arena.c
          common/proto_registry.c
  LIBS metro_proto_testing PkgConfig::JANSSON m)

# The streaming encoder (common/pjson_write*.c) checked against pjson_encode's tree.
metro_unit_test(test_pjson_write
  SOURCES common/pjson_write.c common/pjson_write_wkt.c common/pjson.c common/pjson_wkt.c
          common/b64.c common/text.c common/arena.c common/proto_registry.c
  LIBS metro_proto_testing PkgConfig::JANSSON m)
