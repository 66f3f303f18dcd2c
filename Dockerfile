# Container image of Metro: builds metro-auth, metro-user, metro-transport, metro-ticket,
# metro-payment, metro-webhook, metro-notification, metro-report, metro-control, metro-public,
# metro-scheduler, metro-management and metro-transcoder on Debian 12 and ships them on
# bookworm-slim with only their runtime libraries, running as a non-root user.
#
#   docker build -t registry.example.com/metro/metro:0.1.0 .
#   docker run --rm registry.example.com/metro/metro:0.1.0 metro-transcoder   # exits 2: no config
#
# One image, thirteen binaries: the Kubernetes manifests choose the binary with `command`.
# No secret is baked in: keys, passwords and URLs come from the environment at run time.

ARG DEBIAN_RELEASE=bookworm

# ---- build: the same Debian 12 packages scripts/install-deps.sh installs for a build ----
FROM debian:${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      protobuf-compiler libprotobuf-dev protobuf-c-compiler libprotobuf-c-dev \
      libgrpc-dev grpc-proto golang-github-gogo-googleapis-dev \
      libpq-dev libhiredis-dev libjansson-dev libssl-dev libmicrohttpd-dev \
      librdkafka-dev libzip-dev libcurl4-openssl-dev libqrencode-dev libpng-dev libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
# cmocka is only needed because CMakeLists.txt requires it at configure time (tests).
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && ninja -C /build metro-auth metro-user metro-transport metro-ticket metro-payment metro-webhook \
      metro-notification metro-report metro-control metro-public metro-scheduler metro-management \
      metro-transcoder

# ---- runtime: shared libraries the binaries need (readelf NEEDED -> dpkg -S) ----
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# All thirteen: libgrpc29 (libgrpc.so.29, libgpr.so.29), libprotobuf-c1, libssl3 (libcrypto.so.3),
# libmicrohttpd12. The services: libpq5, libhiredis0.14, librdkafka1 (the Kafka event backend,
# linked even when METRO_KAFKA_BROKERS is empty). All but user, public, report, control and
# management: libjansson4.
# payment, webhook and notification: libcurl4 (outgoing HTTP: the payment providers; the SMTP
# relay and the SMS API). transport only: libzip4 (GTFS zip files). notification only:
# libqrencode4 and libpng16-16 (the ticket's QR code as an inline PNG). ca-certificates so libpq
# can verify a managed PostgreSQL (sslrootcert=/etc/ssl/certs/ca-certificates.crt) and libcurl
# the TLS of the providers, the relay and the SMS API.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc29 libprotobuf-c1 libpq5 libhiredis0.14 libjansson4 libssl3 libmicrohttpd12 \
      librdkafka1 libzip4 libcurl4 libqrencode4 libpng16-16 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 metro \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin metro
COPY --from=build /build/svc/auth/metro-auth /build/svc/user/metro-user \
     /build/svc/transport/metro-transport /build/svc/ticket/metro-ticket \
     /build/svc/payment/metro-payment /build/svc/webhook/metro-webhook \
     /build/svc/notification/metro-notification /build/svc/report/metro-report \
     /build/svc/control/metro-control \
     /build/svc/public/metro-public /build/svc/scheduler/metro-scheduler \
     /build/svc/management/metro-management /build/transcoder/metro-transcoder /usr/local/bin/
# Fail the build if a library is missing: each binary must load and reject the empty
# configuration with exit status 2 (127 would mean the loader gave up).
RUN for b in metro-auth metro-user metro-transport metro-ticket metro-payment metro-webhook \
             metro-notification metro-report metro-control metro-public metro-scheduler \
             metro-management metro-transcoder; do \
      if ldd "/usr/local/bin/$b" | grep 'not found'; then echo "$b: missing library" >&2; exit 1; fi; \
      rc=0; "$b" 2>/dev/null || rc=$?; \
      [ "$rc" -eq 2 ] || { echo "$b: expected exit 2 without configuration, got $rc" >&2; exit 1; }; \
    done
USER 10001:10001
# gRPC and metrics of auth, user, transport, ticket, public, payment, webhook, notification,
# report, control, scheduler, management; transcoder REST and its admin port (/metrics)
EXPOSE 50051 9101 50052 9102 50053 9103 50054 9104 50055 9105 50056 9106 50057 9107 50058 9108 \
       50059 9109 50060 9110 50061 9111 50062 9112 8080 9100
CMD ["metro-auth"]
