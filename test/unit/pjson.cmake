# The proto3 JSON mapping (common/pjson*.c) against the testing protos.
metro_unit_test(test_pjson
  SOURCES common/pjson.c common/pjson_wkt.c common/b64.c common/text.c common/arena.c
          common/proto_registry.c
  LIBS metro_proto_testing PkgConfig::JANSSON m)
