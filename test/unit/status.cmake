# Unit tests of the status type and its gRPC/HTTP mappings.
metro_unit_test(test_status SOURCES common/status.c common/arena.c common/log.c LIBS PkgConfig::JANSSON PkgConfig::GRPC)
