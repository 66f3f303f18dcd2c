# Unit test of the gRPC metrics (common/rpc_metrics.c): go-grpc-middleware's names, labels and
# code names, rendered by common/metrics.c.
metro_unit_test(test_rpc_metrics SOURCES common/rpc_metrics.c common/metrics.c
  LIBS PkgConfig::GRPC PkgConfig::MHD Threads::Threads m)
