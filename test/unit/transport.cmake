# Unit tests of the transport service's pure modules (svc/transport): the journey planner,
# line operation rules (fleet, trip generation), field validation and GTFS CSV.
metro_unit_test(test_planner SOURCES svc/transport/planner.c LIBS PkgConfig::JANSSON)
metro_unit_test(test_schedule SOURCES svc/transport/schedule.c LIBS PkgConfig::JANSSON)
metro_unit_test(test_transport_text
  SOURCES svc/transport/validation.c svc/transport/gtfs_csv.c svc/transport/strbuf.c common/text.c common/b64.c
          common/arena.c common/status.c common/log.c
  LIBS PkgConfig::JANSSON PkgConfig::GRPC Threads::Threads)
