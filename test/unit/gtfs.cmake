# Unit tests of the published GTFS feed (issue 14): the consumer feed's service patterns and
# line colours (svc/transport), and the download's HTTP caching rules (svc/public).
metro_unit_test(test_gtfs_feed_rules
  SOURCES svc/transport/gtfs_calendar.c svc/transport/validation.c common/text.c common/b64.c common/arena.c
          common/status.c common/log.c
  LIBS metro_schedule_generator PkgConfig::JANSSON PkgConfig::GRPC Threads::Threads)
metro_unit_test(test_public_feed_http SOURCES svc/public/feed_http.c common/crypto.c common/b64.c common/text.c
  LIBS PkgConfig::OPENSSL)
