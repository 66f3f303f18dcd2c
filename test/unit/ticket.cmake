# Unit tests of the ticket service's pure rules (svc/ticket): prices, discounts, promotions and
# age types (fares.c), and the ticket state machine (lifecycle.c). ticket.h only needs the headers.
metro_unit_test(test_ticket_fares SOURCES svc/ticket/fares.c LIBS PkgConfig::GRPC PkgConfig::LIBPQ)
metro_unit_test(test_ticket_lifecycle SOURCES svc/ticket/lifecycle.c svc/ticket/fares.c
  LIBS PkgConfig::GRPC PkgConfig::LIBPQ)
