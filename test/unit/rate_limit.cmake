# Unit test of the rate-limit headers (common/rate_limit_headers.c): RateLimit-* and
# Retry-After from a result. The GCRA itself runs against real Redis in test/integration.
metro_unit_test(test_rate_limit_headers SOURCES common/rate_limit_headers.c common/arena.c)
