#!/usr/bin/env bash
# Configures and builds brokerd into build/ (or $BROKERD_BUILD_DIR). Extra arguments go
# to CMake's configure step, e.g. -DBROKERD_BUILD_TESTS=OFF.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${BROKERD_BUILD_DIR:-$root/build}
generator=()
if command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
else
  cmake -S "$root" -B "$build_dir" "$@" >/dev/null
fi
cmake --build "$build_dir" --parallel "$(nproc)"
