# Unit tests of the gate kit (svc/gate/gatekit.c): token signing and hostile parsing, rotating
# codes (HOTP-SHA256 vectors, window, replay) and the published key set.
metro_unit_test(test_gatekit LIBS metro_gatekit)
