# Unit tests of the OpenAPI generator (transcoder/openapi.c) on a hand-built commented descriptor
# set and on the real ones; test_routes covers the route-shaped parts of the document.
metro_unit_test(test_openapi
  SOURCES transcoder/openapi.c transcoder/routes.c transcoder/path_template.c transcoder/raw_http.c
          common/descset.c common/arena.c common/text.c
  LIBS metro_proto_testing PkgConfig::JANSSON)
