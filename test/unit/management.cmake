# Unit tests of the management service's pure modules (svc/management): METRO_MANAGEMENT_SERVICES
# parsed (spec.c) and the bounds of a gateway's report (report.c).
metro_unit_test(test_management_spec LIBS metro_management_core)
