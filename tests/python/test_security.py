"""Tokens and TLS from Python, with the C++ client's settings and environment variables,
against a real brokerd with an auth tokens file and a certificate made at test time."""
import shutil
import subprocess

import pytest

import brokerd
from brokerd import states
from brokerd_process import BrokerProcess

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_cert(directory, name, subject, ca=None, extensions=""):
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key"]
    if ca is None:
        _openssl("req", "-x509", *key, "-out", f"{name}.pem", "-days", "2", "-subj", subject, cwd=directory)
        return
    (directory / f"{name}.ext").write_text(extensions + "\n")
    _openssl("req", *key, "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=directory)


@pytest.fixture
def secure_broker(tmp_path):
    pki = tmp_path / "pki"
    pki.mkdir()
    _make_cert(pki, "ca", "/CN=brokerd test CA")
    _make_cert(pki, "server", "/CN=localhost", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
               "extendedKeyUsage=serverAuth")
    _make_cert(pki, "rogue", "/CN=rogue CA")
    tokens = tmp_path / "tokens"
    tokens.write_text("producer producer-secret-token-1 web\nworker worker-secret-token-22 workers\nadmin admin-secret-token-333 ops\n")
    tokens.chmod(0o600)
    process = BrokerProcess(tmp_path, ("--auth-tokens-file", str(tokens), "--tls-cert-file", str(pki / "server.pem"),
                                       "--tls-key-file", str(pki / "server.key"))).start()
    process.pki = pki
    yield process
    process.stop()


def test_token_and_tls_from_the_environment(secure_broker, tmp_path, monkeypatch):
    token_file = tmp_path / "producer.token"
    token_file.write_text("producer-secret-token-1\n")
    monkeypatch.setenv("BROKERD_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("BROKERD_TLS_CA", str(secure_broker.pki / "ca.pem"))
    app = brokerd.App(server=secure_broker.address)
    assert app.security.tls.active and app.security.token == "producer-secret-token-1"
    result = app.send_task("t.any", args=[1])
    assert result.state == states.QUEUED
    assert app._client.connection().role == "producer"
    with pytest.raises(brokerd.PermissionDenied):
        app.control.purge("default")  # an admin request
    app.close()


def test_wrong_token_is_refused(secure_broker):
    app = brokerd.App(server=secure_broker.address, token="wrong-token-that-is-long",
                      tls=brokerd.TlsOptions(ca_file=str(secure_broker.pki / "ca.pem")))
    with pytest.raises(brokerd.PermissionDenied):
        app.send_task("t.any")


def test_untrusted_certificate_is_refused(secure_broker):
    app = brokerd.App(server=secure_broker.address, token="admin-secret-token-333",
                      tls=brokerd.TlsOptions(ca_file=str(secure_broker.pki / "rogue.pem")), connect_timeout=0.5)
    with pytest.raises(brokerd.BrokerUnavailable, match="TLS"):
        app.send_task("t.any")


def test_worker_with_token_and_tls(secure_broker, tmp_path):
    import os
    import pathlib
    import sys
    here = pathlib.Path(__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=f"{here.parents[1] / 'client' / 'python'}:{here}",
               BROKERD_SERVER=secure_broker.address, BROKERD_TOKEN="worker-secret-token-22",
               BROKERD_TLS_CA=str(secure_broker.pki / "ca.pem"))
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "brokerd", "worker", "-A", "sample_tasks", "-c", "1",
                               "--logfile", str(log)], env=env, cwd=here, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        producer = brokerd.App(server=secure_broker.address, token="producer-secret-token-1",
                               tls=brokerd.TlsOptions(ca_file=str(secure_broker.pki / "ca.pem")))
        assert producer.send_task("sample_tasks.add", args=[20, 22]).get(timeout=30) == 42
        assert "(role worker)" in log.read_text()
        producer.close()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
