#!/usr/bin/env bash
# One command from a fresh Debian machine to a running broker: installs what is
# missing, builds, and starts brokerd in the foreground with its embedded defaults
# (127.0.0.1:7411, data in ./brokerd-data, sync=always). Extra arguments go to brokerd,
# e.g. ./tools/run-brokerd.sh --listen 127.0.0.1:7500. Ctrl-C stops it cleanly.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/scripts/install-deps.sh"
BROKERD_BUILD_DIR=${BROKERD_BUILD_DIR:-$root/build} "$root/tools/scripts/build.sh" -DBROKERD_BUILD_TESTS=OFF
exec "${BROKERD_BUILD_DIR:-$root/build}/server/brokerd" "$@"
