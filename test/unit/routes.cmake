# Unit tests of the descriptor-set index, path templates, the REST route table, the OpenAPI
# generator and the raw HTTP rules; each compiles only the sources it needs.
metro_unit_test(test_descset
  SOURCES common/descset.c common/arena.c
  LIBS metro_proto_testing)
metro_unit_test(test_path_template
  SOURCES transcoder/path_template.c common/arena.c)
metro_unit_test(test_routes
  SOURCES transcoder/routes.c transcoder/path_template.c transcoder/openapi.c transcoder/raw_http.c
          common/descset.c common/arena.c common/text.c
  LIBS metro_proto_testing PkgConfig::JANSSON)
metro_unit_test(test_raw_http
  SOURCES transcoder/raw_http.c common/arena.c common/text.c)
