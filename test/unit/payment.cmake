# Unit tests of the payment service's provider-protocol layer (svc/payment): VNPay signatures,
# callbacks, IPN answers and refunds; PayPal amounts and JSON; Sepay webhooks, Apikey and QR.
metro_unit_test(test_payment_providers LIBS metro_payment_providers)
