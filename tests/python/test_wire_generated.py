"""The checked-in Python wire module is exactly what protoc makes of proto/broker.proto."""
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("protoc") is None, reason="protoc is not installed")
def test_generated_module_matches_the_proto(tmp_path):
    subprocess.run(["protoc", "-I", str(REPO / "proto"), f"--python_out={tmp_path}", str(REPO / "proto/broker.proto")],
                   check=True)
    generated = (tmp_path / "broker_pb2.py").read_text()
    checked_in = (REPO / "client/python/brokerd/_wire/broker_pb2.py").read_text()
    assert generated == checked_in, "run tools/scripts/generate-python-proto.sh and commit the result"


def test_every_envelope_kind_is_known_to_the_package():
    from brokerd._wire import pb
    kinds = {field.name for field in pb.Envelope.DESCRIPTOR.oneofs_by_name["body"].fields}
    assert {"hello", "enqueue", "consume", "delivery", "complete", "heartbeat", "release", "wait_result",
            "revoke_notice", "event", "events_missed"} <= kinds
