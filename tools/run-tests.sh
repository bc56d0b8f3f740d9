#!/usr/bin/env bash
# One command from a fresh Debian machine to a tested tree: installs what is missing,
# builds everything (warnings are errors here), and runs the whole suite with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/scripts/install-deps.sh" --with-tests
export BROKERD_BUILD_DIR=${BROKERD_BUILD_DIR:-$root/build}
"$root/tools/scripts/build.sh" -DBROKERD_BUILD_TESTS=ON -DBROKERD_WERROR=ON
cd "$BROKERD_BUILD_DIR"
ctest --output-on-failure --parallel "$(nproc)" --timeout 300
