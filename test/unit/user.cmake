# Unit tests of the user service's field rules (update masks) and list queries.
metro_unit_test(test_user_fields
  SOURCES svc/user/fields.c svc/user/paging.c common/page_token.c common/status.c common/arena.c common/log.c common/text.c
          common/crypto.c common/b64.c
  LIBS PkgConfig::JANSSON PkgConfig::GRPC PkgConfig::OPENSSL PkgConfig::LIBPQ)
