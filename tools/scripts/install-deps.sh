#!/usr/bin/env bash
# Installs the Debian bookworm packages brokerd builds with, skipping those already
# present. Used by run-brokerd.sh, run-tests.sh and the Dockerfile's build stage.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libasio-dev librocksdb-dev libprotobuf-dev protobuf-compiler libspdlog-dev
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libcpp-httplib-dev libssl-dev
)
if [[ "${1:-}" == "--with-tests" ]]; then
  # openssl: the TLS tests make their certificates with it at test time.
  packages+=(libgtest-dev libgmock-dev openssl)
  # The Python client's tests (tests/python) and the FastAPI example's.
  packages+=(python3 python3-protobuf python3-pytest python3-fastapi python3-uvicorn python3-httpx python3-jinja2)
fi
# The libFuzzer targets (cmake -DBROKERD_FUZZ=ON) need clang and its sanitizer runtimes.
# Not in the default or test sets: CI does not build the fuzzers.
if [[ " $* " == *" --with-fuzz "* ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
