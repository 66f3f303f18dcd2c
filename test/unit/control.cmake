# Unit tests of the control service (svc/control): the one trip generator (generator/: headways,
# fleet limit, bands, stop timing, train assignment), the forecast rules and local calendar, and
# the journeys ticket.used exits count on.
metro_unit_test(test_control_schedule LIBS metro_schedule_generator PkgConfig::JANSSON)
metro_unit_test(test_control_forecast LIBS metro_control_core)
metro_unit_test(test_control_journeys LIBS metro_control_core PkgConfig::JANSSON)
