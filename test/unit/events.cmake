# Unit tests of the event backbone's pure parts: topic naming and the envelope codec.
metro_unit_test(test_ev_envelope SOURCES common/ev_envelope.c common/arena.c LIBS PkgConfig::GRPC)
