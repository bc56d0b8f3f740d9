# Multi-stage image of brokerd and brokerctl on Debian bookworm.
# The build stage runs the same scripts as the README's set-up command.
FROM debian:bookworm AS build
WORKDIR /src
COPY tools/scripts/install-deps.sh tools/scripts/install-deps.sh
RUN tools/scripts/install-deps.sh
COPY . .
RUN BROKERD_BUILD_DIR=/build tools/scripts/build.sh -DBROKERD_BUILD_TESTS=OFF \
 && cmake --install /build --prefix /opt/brokerd

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends librocksdb7.8 libprotobuf32 libspdlog1.10 libfmt9 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/brokerd --shell /usr/sbin/nologin brokerd \
 && mkdir -p /var/lib/brokerd && chown brokerd:brokerd /var/lib/brokerd
COPY --from=build /opt/brokerd/bin/brokerd /opt/brokerd/bin/brokerctl /usr/local/bin/
USER brokerd
VOLUME /var/lib/brokerd
EXPOSE 7411
HEALTHCHECK --interval=10s --timeout=3s CMD ["brokerctl", "--server", "127.0.0.1:7411", "queues"]
# Inside a container the broker must listen beyond loopback to be reachable.
ENTRYPOINT ["brokerd", "--listen", "0.0.0.0:7411", "--data-dir", "/var/lib/brokerd"]
