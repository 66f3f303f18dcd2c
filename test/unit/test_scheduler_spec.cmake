# Unit tests of the scheduler's pure modules (svc/scheduler): schedule specs and their slots on
# the Asia/Ho_Chi_Minh clock (spec.c) and the lease decisions (lease.c).
metro_unit_test(test_scheduler_spec SOURCES svc/scheduler/spec.c svc/scheduler/lease.c LIBS PkgConfig::GRPC)
