# Unit tests of API keys: the secret format shared with the gateway (common/api_key.c) and the
# rules a new key meets in the auth service (svc/auth/api_keys_rules.c), with their page tokens.
metro_unit_test(test_api_key_rules
  SOURCES common/api_key.c svc/auth/api_keys_rules.c svc/auth/validation.c common/password.c common/pb_time.c
          common/page_token.c common/status.c common/arena.c common/log.c common/text.c common/crypto.c common/b64.c
  LIBS PkgConfig::JANSSON PkgConfig::GRPC PkgConfig::OPENSSL)
