"""Addresses, tokens and TLS settings from arguments and the environment (no broker)."""
import pytest

from brokerd import settings


def test_parse_address():
    assert settings.parse_address("127.0.0.1:7411") == settings.Address("127.0.0.1", 7411)
    assert settings.parse_address("[::1]:80") == settings.Address("::1", 80)
    assert str(settings.Address("::1", 80)) == "[::1]:80"
    for bad in ("localhost", ":7411", "host:0", "host:99999", "host:x", "[::1]"):
        with pytest.raises(ValueError):
            settings.parse_address(bad)


def test_environment(tmp_path, monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text("  secret-token \nignored\n")
    env = {"BROKERD_TOKEN_FILE": str(token_file), "BROKERD_TOKEN": "other", "BROKERD_TLS_CA": "/ca.pem"}
    security = settings.security_from_environment(env)
    assert security.token == "secret-token"
    assert security.tls.active and security.tls.ca_file == "/ca.pem"
    assert settings.security_from_environment({"BROKERD_TOKEN": " t "}).token == "t"
    assert not settings.security_from_environment({"BROKERD_TLS": "0"}).tls.active
    assert settings.security_from_environment({"BROKERD_TLS": "1"}).tls.active
    monkeypatch.setenv("BROKERD_SERVER", "10.1.2.3:9")
    assert settings.server_from_environment(None) == settings.Address("10.1.2.3", 9)
    assert settings.server_from_environment("h:1") == settings.Address("h", 1)


def test_token_file_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no token"):
        settings.read_token_file(str(empty))
    with pytest.raises(ValueError, match="cannot read"):
        settings.read_token_file(str(tmp_path / "missing"))


def test_ids_are_time_ordered_uuid7():
    from brokerd.ids import new_task_id
    ids = [new_task_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i[14] == "7" and i[19] in "89ab" for i in ids)
