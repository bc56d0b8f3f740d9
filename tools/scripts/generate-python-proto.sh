#!/usr/bin/env bash
# Regenerates the Python wire module (client/python/brokerd/_wire/broker_pb2.py) from
# proto/broker.proto. Run it after changing the proto and commit the result;
# tests/python/test_wire_generated.py fails while the two differ.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
protoc -I "$root/proto" --python_out="$root/client/python/brokerd/_wire" "$root/proto/broker.proto"
