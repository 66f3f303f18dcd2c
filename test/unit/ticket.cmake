# Unit tests of the ticket service's pure rules (svc/ticket): prices, discounts, promotions and
# age types (fares.c), and the ticket state machine (lifecycle.c). ticket.h only needs the headers.
metro_unit_test(test_ticket_fares SOURCES svc/ticket/fares.c LIBS PkgConfig::GRPC PkgConfig::LIBPQ)
metro_unit_test(test_ticket_lifecycle SOURCES svc/ticket/lifecycle.c svc/ticket/fares.c
  LIBS PkgConfig::GRPC PkgConfig::LIBPQ)
# The decision on a tap at a gate (gate_rules.c): the §10 checks in order and the §11.3 abuse rules.
metro_unit_test(test_ticket_gate_rules SOURCES svc/ticket/gate_rules.c svc/ticket/lifecycle.c svc/ticket/fares.c
  LIBS PkgConfig::GRPC PkgConfig::LIBPQ)
