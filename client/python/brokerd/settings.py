"""Where the broker is and how to reach it: the same settings and environment variables
as the C++ client (``client/include/brokerd/security.h``) and brokerctl.

- ``BROKERD_SERVER``: ``HOST:PORT`` (default ``127.0.0.1:7411``); ``[::1]:7411`` for IPv6.
- ``BROKERD_TOKEN_FILE`` (first line is the token) or else ``BROKERD_TOKEN``.
- ``BROKERD_TLS=1`` turns TLS on, and so does any of ``BROKERD_TLS_CA`` (CA bundle that
  signed the broker's certificate; empty = the system's), ``BROKERD_TLS_CERT`` and
  ``BROKERD_TLS_KEY`` (this client's certificate, for brokers that verify clients).
  ``BROKERD_TLS_SERVER_NAME`` is the name the certificate must carry (default: the host).
"""
from __future__ import annotations

import dataclasses
import os

DEFAULT_SERVER = "127.0.0.1:7411"


@dataclasses.dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str) -> Address:
    """``HOST:PORT`` or ``[V6]:PORT``; ValueError with the reason otherwise."""
    text = text.strip()
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or not text[close + 1:].startswith(":"):
            raise ValueError(f"bad broker address {text!r}: expected [HOST]:PORT")
        host, port_text = text[1:close], text[close + 2:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"bad broker address {text!r}: expected HOST:PORT")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad broker address {text!r}: the port must be 1..65535")
    return Address(host, int(port_text))


@dataclasses.dataclass(frozen=True)
class TlsOptions:
    """TLS to the broker. The broker's certificate and name are always verified."""

    enabled: bool = False
    ca_file: str = ""
    server_name: str = ""
    cert_file: str = ""
    key_file: str = ""

    @property
    def active(self) -> bool:
        return self.enabled or bool(self.ca_file or self.cert_file)


@dataclasses.dataclass(frozen=True)
class Security:
    token: str = ""
    tls: TlsOptions = TlsOptions()


def read_token_file(path: str) -> str:
    """The token in ``path``: its first line without surrounding whitespace."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.readline().strip()
    except OSError as e:
        raise ValueError(f"cannot read token file {path}: {e.strerror}") from None
    if not token:
        raise ValueError(f"token file {path} has no token on its first line")
    return token


def security_from_environment(environ=None) -> Security:
    env = os.environ if environ is None else environ
    token_file = env.get("BROKERD_TOKEN_FILE", "")
    token = read_token_file(token_file) if token_file else env.get("BROKERD_TOKEN", "").strip()
    enabled = env.get("BROKERD_TLS", "")
    tls = TlsOptions(
        enabled=bool(enabled) and enabled != "0",
        ca_file=env.get("BROKERD_TLS_CA", ""),
        server_name=env.get("BROKERD_TLS_SERVER_NAME", ""),
        cert_file=env.get("BROKERD_TLS_CERT", ""),
        key_file=env.get("BROKERD_TLS_KEY", ""),
    )
    return Security(token=token, tls=tls)


def resolve_security(token: str | None = None, token_file: str | None = None,
                     tls: TlsOptions | bool | None = None) -> Security:
    """Arguments win over the environment, field by field."""
    env = security_from_environment()
    if token_file:
        token = read_token_file(token_file)
    if token is None:
        token = env.token
    if tls is None:
        tls = env.tls
    elif tls is True:
        tls = dataclasses.replace(env.tls, enabled=True)
    elif tls is False:
        tls = TlsOptions()
    return Security(token=token, tls=tls)


def server_from_environment(server: str | None) -> Address:
    return parse_address(server or os.environ.get("BROKERD_SERVER") or DEFAULT_SERVER)
