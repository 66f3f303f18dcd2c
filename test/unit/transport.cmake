# Unit tests of the transport service's pure modules (svc/transport): the journey planner,
# field validation and GTFS CSV (trip generation: test_control_schedule, control.cmake).
metro_unit_test(test_planner SOURCES svc/transport/planner.c LIBS PkgConfig::JANSSON)
metro_unit_test(test_transport_text
  SOURCES svc/transport/validation.c svc/transport/gtfs_csv.c svc/transport/strbuf.c common/text.c common/b64.c
          common/arena.c common/status.c common/log.c
  LIBS PkgConfig::JANSSON PkgConfig::GRPC Threads::Threads)
