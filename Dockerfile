# brokerd on Debian bookworm. Two images from this file:
#
# - the default target (`runtime`): brokerd, brokerctl and the C++ demo worker/producer
#   (examples/), on bookworm-slim with only the shared libraries they load;
# - `--target python`: Python workers and the FastAPI example (examples/fastapi/): Debian's
#   python3 with protobuf, FastAPI, uvicorn and Jinja2, the brokerd package (client/python)
#   and the example, and no C++ build at all.
#
# Why two: the broker image is what runs in production, and a Python web stack in it would
# add ~60 MB and ~40 packages (python3.11, pydantic, starlette, uvicorn...) to patch to a
# service that never uses them. The Python image needs nothing of the C++ build, so it
# also builds in a minute.
#
#   docker build -t brokerd .
#   docker run -d --name brokerd -p 127.0.0.1:7411:7411 -v brokerd-data:/var/lib/brokerd brokerd
#   docker exec brokerd brokerctl enqueue add --args '[4, 4]'
#   docker build --target python -t brokerd-python .
#
# docker-compose.yml runs the broker with the FastAPI app and scalable Python workers.

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

# Python stage (`--target python`): Debian's packages only, as the package expects
# (docs/python.md); the same non-root user as the broker's image. The package lives in
# /opt/brokerd/python (on PYTHONPATH), the example in /opt/brokerd/examples/fastapi, the
# working directory, so `python3 -m brokerd worker -A worker` and `uvicorn main:app` find
# it as they do in a checkout. Byte code is compiled here: the user cannot write /opt.
FROM debian:bookworm-slim AS python
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-protobuf python3-fastapi python3-uvicorn python3-jinja2 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 brokerd \
 && useradd --system --uid 10001 --gid brokerd --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin brokerd
COPY client/python/brokerd /opt/brokerd/python/brokerd
COPY examples/fastapi /opt/brokerd/examples/fastapi
RUN python3 -m compileall -q /opt/brokerd/python /opt/brokerd/examples/fastapi
ENV PYTHONPATH=/opt/brokerd/python \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BROKERD_SERVER=brokerd:7411
USER brokerd
WORKDIR /opt/brokerd/examples/fastapi
EXPOSE 8000
# The web app; a worker is `python3 -m brokerd worker -A worker` (docker-compose.yml).
# SIGTERM stops either gracefully: uvicorn finishes open requests, a worker its running
# tasks (its prefetched ones go back to the broker at once).
CMD ["python3", "-m", "uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]

# Runtime stage, the default target (last): the binaries and only the shared libraries
# they load. From `ldd` of the four binaries and `dpkg -S`: RocksDB, protobuf, spdlog, fmt,
# OpenSSL (TLS) and cpp-httplib (brokerd's metrics listener); apt adds what those depend on
# (compression libraries, gflags).
FROM debian:bookworm-slim AS runtime
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
