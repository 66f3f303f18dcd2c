# Unit tests of the request transcoding (transcoder/transcode.c) over the metro.testing.v1 routes
# and of the per-backend circuit breaker (transcoder/breaker.c); each compiles only what it needs.
metro_unit_test(test_transcode
  SOURCES transcoder/transcode.c transcoder/routes.c transcoder/path_template.c transcoder/raw_http.c
          common/descset.c common/pjson.c common/pjson_wkt.c common/b64.c common/text.c common/arena.c
          common/proto_registry.c
  LIBS metro_proto_testing PkgConfig::JANSSON m)
metro_unit_test(test_breaker
  SOURCES transcoder/breaker.c
  LIBS Threads::Threads)
