#!/usr/bin/env bash
# One command from a fresh Debian machine to a tested tree: installs what is missing,
# builds everything (warnings are errors here), and runs the whole suite with ctest.
# Then it builds again in build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer
# (BROKERD_SANITIZE=ON) and runs the suite there, except the install, torture and soak
# labels, which the normal run covers; BROKERD_SKIP_SANITIZERS=1 leaves that part out. The
# ThreadSanitizer build is not run here: see docs/reliability.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/scripts/install-deps.sh" --with-tests
export BROKERD_BUILD_DIR=${BROKERD_BUILD_DIR:-$root/build}
"$root/tools/scripts/build.sh" -DBROKERD_BUILD_TESTS=ON -DBROKERD_WERROR=ON
cd "$BROKERD_BUILD_DIR"
ctest --output-on-failure --parallel "$(nproc)" --timeout 300

if [[ ${BROKERD_SKIP_SANITIZERS:-0} == 1 ]]; then
  echo "BROKERD_SKIP_SANITIZERS=1: not running the ASan+UBSan suite"
  exit 0
fi
asan_dir=${BROKERD_ASAN_BUILD_DIR:-$root/build-asan}
echo "== ASan+UBSan build in $asan_dir"
BROKERD_BUILD_DIR=$asan_dir "$root/tools/scripts/build.sh" \
  -DBROKERD_BUILD_TESTS=ON -DBROKERD_WERROR=ON -DBROKERD_SANITIZE=ON
cd "$asan_dir"
# Sanitized code runs several times slower: a longer per-test limit than above.
ctest --output-on-failure --parallel "$(nproc)" --timeout 600 --label-exclude 'install|torture|soak'
