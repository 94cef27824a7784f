"""Brokers of a test's own: a throwaway certificate authority and a `redis-server` on a free port,
over TLS (client certificates required) and/or with a password, stopped when the test ends.

The password and TLS settings go in a 0600 config file, never on the command line, so that the
server's process arguments hold no secret either.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _write(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(subject: str, key, issuer: x509.Name, issuer_key, *, ca: bool = False,
                 usage=None, names: list | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_tls_files(folder: Path, name: str = "sage test CA") -> TlsFiles:
    """A CA, a server certificate for 127.0.0.1 / localhost and a client certificate, as PEM files."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = _certificate(name, ca_key, ca_name, ca_key, ca=True)
    pem = serialization.Encoding.PEM
    out = {"ca": _write(folder / "ca.pem", ca.public_bytes(pem))}
    for role, usage, names in (
            ("server", ExtendedKeyUsageOID.SERVER_AUTH,
             [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            ("client", ExtendedKeyUsageOID.CLIENT_AUTH, None)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(f"sage test {role}", key, ca_name, ca_key, usage=usage, names=names)
        out[f"{role}_cert"] = _write(folder / f"{role}.pem", cert.public_bytes(pem))
        out[f"{role}_key"] = _write(folder / f"{role}.key", _key_pem(key))
    return TlsFiles(**out)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """`redis-server` in `folder` on a free port: TLS-only when `tls` is given, with `password`
    when given. Use as a context manager."""

    def __init__(self, folder: Path, tls: TlsFiles | None = None, password: str | None = None) -> None:
        self.folder, self.tls, self.password = folder, tls, password
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def scheme(self) -> str:
        return "rediss" if self.tls else "redis"

    def config(self) -> str:
        lines = ["bind 127.0.0.1", 'save ""', "appendonly no", f"dir {self.folder}",
                 f"logfile {self.folder / 'redis.log'}", "daemonize no"]
        if self.tls:
            lines += ["port 0", f"tls-port {self.port}", f"tls-cert-file {self.tls.server_cert}",
                      f"tls-key-file {self.tls.server_key}", f"tls-ca-cert-file {self.tls.ca}",
                      "tls-auth-clients yes"]
        else:
            lines.append(f"port {self.port}")
        if self.password:
            lines.append(f"requirepass {self.password}")
        return "\n".join(lines) + "\n"

    def client(self, **kwargs):
        import redis

        if self.tls:
            kwargs = {"ssl": True, "ssl_ca_certs": str(self.tls.ca), "ssl_certfile": str(self.tls.client_cert),
                      "ssl_keyfile": str(self.tls.client_key), **kwargs}
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **kwargs)

    def __enter__(self) -> "RedisServer":
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (scripts/services.sh installs nothing: it is a "
                               "Debian package of the machine)")
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = _write(self.folder / "redis.conf", self.config().encode())
        self.proc = subprocess.Popen(["redis-server", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.client(socket_timeout=1).ping():
                    return self
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.folder / "redis.log"
                    raise RuntimeError(f"redis-server did not start: {log.read_text()[-2000:] if log.exists() else ''}")
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
