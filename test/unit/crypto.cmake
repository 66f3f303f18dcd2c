# Unit tests of the security primitives (common/b64, crypto, password, jwt, identity); each
# compiles only the sources it needs so half-written files elsewhere in common/ cannot break it.
metro_unit_test(test_b64 SOURCES common/b64.c)
metro_unit_test(test_crypto SOURCES common/crypto.c common/b64.c LIBS PkgConfig::OPENSSL)
metro_unit_test(test_password SOURCES common/password.c common/crypto.c common/b64.c
  LIBS PkgConfig::OPENSSL)
metro_unit_test(test_jwt SOURCES common/jwt.c common/b64.c
  LIBS PkgConfig::OPENSSL PkgConfig::JANSSON)
metro_unit_test(test_identity SOURCES common/identity.c common/crypto.c common/b64.c common/arena.c
  LIBS PkgConfig::OPENSSL PkgConfig::GRPC)
