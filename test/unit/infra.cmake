# Unit tests of the process runtime: configuration, structured logging and metrics
# (with its HTTP endpoint). Each compiles only the common/ sources it proves.
metro_unit_test(test_config SOURCES common/config.c)
metro_unit_test(test_log SOURCES common/log.c LIBS PkgConfig::JANSSON Threads::Threads)
metro_unit_test(test_metrics SOURCES common/metrics.c common/metrics_http.c
  LIBS PkgConfig::MHD PkgConfig::CURL Threads::Threads m)
