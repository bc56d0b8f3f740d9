# brokerd on Debian bookworm: brokerd, brokerctl and the demo worker/producer (examples/).
#
#   docker build -t brokerd .
#   docker run -d --name brokerd -p 127.0.0.1:7411:7411 -v brokerd-data:/var/lib/brokerd brokerd
#   docker exec brokerd brokerctl enqueue add --args '[4, 4]'
#
# docker-compose.yml runs it with scalable demo workers.

# Build stage: the same scripts as the README's set-up (tools/run-brokerd.sh).
FROM debian:bookworm AS build
WORKDIR /src
# Packages first, so that this layer is reused while only sources change.
COPY tools/scripts/install-deps.sh tools/scripts/install-deps.sh
RUN tools/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN BROKERD_BUILD_DIR=/build tools/scripts/build.sh -DBROKERD_BUILD_TESTS=OFF \
 && cmake --install /build --prefix /opt/brokerd --component runtime --strip \
 && cmake --install /build --prefix /opt/brokerd --component examples --strip

# Runtime stage: the binaries and only the shared libraries they load. From `ldd` of the
# four binaries and `dpkg -S`: RocksDB, protobuf, spdlog, fmt, OpenSSL (TLS) and cpp-httplib (brokerd's
# metrics listener); apt adds what those depend on (compression libraries, gflags).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librocksdb7.8 libprotobuf32 libspdlog1.10 libfmt9 libcpp-httplib0.11 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 brokerd \
 && useradd --system --uid 10001 --gid brokerd --home-dir /var/lib/brokerd --shell /usr/sbin/nologin brokerd \
 && mkdir -p /var/lib/brokerd \
 && chown brokerd:brokerd /var/lib/brokerd \
 && chmod 0700 /var/lib/brokerd
COPY --from=build /opt/brokerd/bin/brokerd /opt/brokerd/bin/brokerctl \
                  /opt/brokerd/bin/broker-demo-worker /opt/brokerd/bin/broker-demo-producer /usr/local/bin/
USER brokerd
WORKDIR /var/lib/brokerd
VOLUME /var/lib/brokerd
EXPOSE 7411
# brokerctl exits 0 only when the broker answered.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["brokerctl", "--server", "127.0.0.1:7411", "queues"]
# SIGTERM (docker stop) closes connections, requeues leased tasks, syncs and exits 0;
# allow it more than docker's default 10 s grace (docker stop -t 30, stop_grace_period).
STOPSIGNAL SIGTERM
# Inside a container the broker must listen beyond loopback to be reachable; data lives in
# the volume. Logs go to stderr (docker logs). Other settings as BROKERD_<SETTING>
# environment variables (docker run -e BROKERD_LOG_LEVEL=debug), or replace the command.
CMD ["brokerd", "--listen", "0.0.0.0:7411", "--data-dir", "/var/lib/brokerd"]
