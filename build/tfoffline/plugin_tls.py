"""The TLS identity a plugin presents in the go-plugin handshake.

go-plugin (Terraform's plugin client) expects the plugin to serve gRPC over TLS and to
print its certificate, base64 DER, in the handshake line. A throw-away self-signed
certificate on a P-256 key does, and unlike an RSA key it costs nothing to generate
on each of the several provider starts in one Terraform command.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def server_credentials() -> tuple[bytes, grpc.ServerCredentials]:
    """``(certificate DER, gRPC server credentials)`` for one plugin process."""
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
        .not_valid_after(now + timedelta(days=1))
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
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    credentials = grpc.ssl_server_credentials(
        [(key_pem, cert.public_bytes(serialization.Encoding.PEM))], require_client_auth=False
    )
    return cert.public_bytes(serialization.Encoding.DER), credentials
