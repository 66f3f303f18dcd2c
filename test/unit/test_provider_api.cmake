# The outgoing HTTP layer (common/http_client) and the payment providers' API clients
# (svc/payment/providers: paypal_api.c, vnpay_api.c) against the real emulators of test/providers,
# which the test starts and stops itself (scripts/providers.sh), hence the integration label.
metro_unit_test(test_provider_api LIBS metro_payment_providers)
if(TARGET test_provider_api)
  set_tests_properties(test_provider_api PROPERTIES LABELS integration TIMEOUT 180)
endif()
