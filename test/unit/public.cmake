# Unit tests of the public service's pure modules (svc/public): cache keys and stored
# entries, the events-to-invalidation map, and the request rules.
metro_unit_test(test_public_cache_entry SOURCES svc/public/cache_entry.c common/arena.c LIBS Threads::Threads)
metro_unit_test(test_public_rules
  SOURCES svc/public/invalidation.c svc/public/validation.c svc/public/calendar.c svc/public/cache_entry.c
          common/text.c common/b64.c common/arena.c common/status.c common/log.c
  LIBS PkgConfig::JANSSON PkgConfig::GRPC Threads::Threads)
