#!/usr/bin/env bash
# Installs a brokerd build into a temporary prefix (cmake --install --prefix) and checks
# that the result is usable: the expected files are there, they do not point back into
# the source or build tree, and a program builds against the client library both with
# find_package(brokerd CONFIG) and with pkg-config + g++, and runs.
#
#   install_test.sh BUILD_DIR SOURCE_DIR CXX "CXXFLAGS" [GENERATOR] [INSTALL_SERVICE]
#
# INSTALL_SERVICE=OFF leaves out the systemd unit and config (used when the build puts the
# config under an absolute CMAKE_INSTALL_SYSCONFDIR, which --prefix would not contain).
set -euo pipefail
build_dir=$1
source_dir=$2
cxx=$3
cxxflags=$4
generator=${5:-Ninja}
install_service=${6:-ON}
consumer_dir=$source_dir/tests/install/consumer

tmp=$(mktemp -d "${TMPDIR:-/tmp}/brokerd-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
unset DESTDIR  # everything goes under $prefix

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

step "cmake --install $build_dir --prefix $prefix"
components=(runtime development)
[[ $install_service == ON ]] && components+=(service)
for component in "${components[@]}"; do
  cmake --install "$build_dir" --prefix "$prefix" --component "$component" >/dev/null
done

step "installed files"
libdir=$(cd "$prefix" && dirname "$(find . -name libbrokerd_client.a -print -quit)")
[[ $libdir != . && -n $libdir ]] || fail "libbrokerd_client.a not installed"
libdir=${libdir#./}
expected=(
  bin/brokerd bin/brokerctl
  include/brokerd/client.h include/brokerd/worker.h include/brokerd/task.h include/brokerd/status.h
  "$libdir/libbrokerd_client.a" "$libdir/libbrokerd_wire.a"
  "$libdir/cmake/brokerd/brokerdConfig.cmake" "$libdir/cmake/brokerd/brokerdConfigVersion.cmake"
  "$libdir/cmake/brokerd/brokerdTargets.cmake" "$libdir/pkgconfig/brokerd-client.pc"
)
if [[ $install_service == ON ]]; then
  expected+=(lib/systemd/system/brokerd.service etc/brokerd/brokerd.toml)
fi
for file in "${expected[@]}"; do
  [[ -f $prefix/$file ]] || fail "$file not installed"
done
[[ -x $prefix/bin/brokerd && -x $prefix/bin/brokerctl ]] || fail "binaries not executable"
[[ ! -e $prefix/bin/broker-demo-worker ]] || fail "examples are installed only with --component examples"
"$prefix/bin/brokerd" --version >/dev/null || fail "installed brokerd does not run"
"$prefix/bin/brokerctl" --help >/dev/null || fail "installed brokerctl does not run"

# Nothing installed may refer to the trees it was built from.
text_dirs=("$prefix/$libdir/cmake" "$prefix/$libdir/pkgconfig" "$prefix/include")
[[ $install_service == ON ]] && text_dirs+=("$prefix/lib/systemd" "$prefix/etc")
if grep -rlF -e "$source_dir" -e "$(cd "$build_dir" && pwd)" "${text_dirs[@]}"; then
  fail "installed files refer to the source or build directory (above)"
fi

if [[ $install_service == ON ]]; then
  unit=$prefix/lib/systemd/system/brokerd.service
  grep -qxF "ExecStart=$prefix/bin/brokerd --config $prefix/etc/brokerd/brokerd.toml" "$unit" \
    || fail "unit's ExecStart does not name the installed paths: $(grep ExecStart= "$unit")"
  if command -v systemd-analyze >/dev/null 2>&1; then
    step "systemd-analyze verify"
    # Offline check of the syntax and directives; it also needs ExecStart's binary to exist,
    # which it does here. Warnings about the host (no systemd running) are not failures.
    output=$(systemd-analyze verify --man=no "$unit" 2>&1) || {
      echo "$output" >&2
      fail "systemd-analyze verify rejected the unit"
    }
    if grep -F "brokerd.service" <<<"$output" | grep -viE "not running|Failed to (connect|create bus)" >&2; then
      fail "systemd-analyze verify reported problems in the unit (above)"
    fi
  fi
fi

step "find_package(brokerd CONFIG)"
cmake -S "$consumer_dir" -B "$tmp/cmake-consumer" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 \
  || { cat "$tmp/cmake.log" >&2; fail "configuring the find_package consumer"; }
cmake --build "$tmp/cmake-consumer" >"$tmp/build.log" 2>&1 \
  || { cat "$tmp/build.log" >&2; fail "building the find_package consumer"; }
"$tmp/cmake-consumer/consumer" || fail "the find_package consumer failed"

step "pkg-config brokerd-client + $cxx (its default -std)"
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
pkg-config --exists --print-errors brokerd-client || fail "pkg-config cannot use brokerd-client.pc"
[[ $(pkg-config --modversion brokerd-client) == "$(sed -n 's/^Version: //p' "$prefix/$libdir/pkgconfig/brokerd-client.pc")" ]]
# shellcheck disable=SC2046,SC2086  # word splitting of the flags is intended
"$cxx" $cxxflags "$consumer_dir/main.cc" -o "$tmp/pc-consumer" \
  $(pkg-config --cflags --libs brokerd-client) || fail "building with pkg-config"
"$tmp/pc-consumer" || fail "the pkg-config consumer failed"
echo "install test passed"
