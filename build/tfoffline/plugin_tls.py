"""The TLS identity a plugin presents in the go-plugin handshake.

go-plugin (Terraform's plugin client) expects the plugin to serve gRPC over TLS and to
print its certificate, base64 DER, in the handshake line; the client pins exactly that
certificate, so a self-signed one on a P-256 key does. Terraform starts the provider
several times per command, so the harness writes one identity next to the launcher
(``TFOFFLINE_PLUGIN_TLS``) and each start only reads it, without importing
``cryptography``; without it, each start generates a throw-away identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc  # type: ignore[import-untyped]

from build_support import atomic

TLS_ENV = "TFOFFLINE_PLUGIN_TLS"
_FILES = ("key.pem", "cert.pem", "cert.der")


@dataclass(frozen=True)
class Identity:
    """A private key and its self-signed certificate."""

    key_pem: bytes
    cert_pem: bytes
    cert_der: bytes

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)], require_client_auth=False
        )


def generate(valid_days: int = 1) -> Identity:
    """A fresh P-256 key and a self-signed ``localhost`` certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Identity(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        cert_der=cert.public_bytes(serialization.Encoding.DER),
    )


def write(directory: Path, valid_days: int = 365) -> None:
    """Write a new identity into ``directory`` (key readable by the owner only)."""
    identity = generate(valid_days)
    for name, data in zip(
        _FILES, (identity.key_pem, identity.cert_pem, identity.cert_der), strict=True
    ):
        atomic.write_bytes(directory / name, data, private=name == "key.pem")


def load_or_generate() -> Identity:
    """The identity named by ``TFOFFLINE_PLUGIN_TLS``, else a throw-away one."""
    directory = os.environ.get(TLS_ENV)
    if directory:
        paths = [Path(directory) / name for name in _FILES]
        if all(p.is_file() for p in paths):
            key_pem, cert_pem, cert_der = (p.read_bytes() for p in paths)
            return Identity(key_pem, cert_pem, cert_der)
    return generate()
