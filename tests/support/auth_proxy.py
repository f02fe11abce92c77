"""A small authenticating reverse proxy in front of a real Prometheus, as clusters put one
there (an OAuth proxy, Mimir's gateway, Amazon Managed Prometheus' SigV4 front door).

`AuthProxy(upstream, check)`: every request goes through `check(method, path, headers, body)`,
which returns None to forward it or (status, message) to refuse it. `tls=(cert, key)` serves
HTTPS. Binds 127.0.0.1 only; `seen` keeps each request's headers for assertions.
Also here: a CA and a server certificate for 127.0.0.1 made with `cryptography`, and a SigV4
check that re-signs each request with botocore and the known credentials and compares.
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.support.http_server import LocalServer, QuietHandler

Check = Callable[[str, str, Mapping[str, str], bytes], "tuple[int, str] | None"]


class AuthProxy:
    def __init__(self, upstream: str, check: Check, tls: tuple[Path, Path] | None = None) -> None:
        self.upstream = upstream.rstrip("/")
        self.check = check
        self.tls = tls
        self.seen: list[dict[str, str]] = []
        self._server = LocalServer()

    def start(self) -> AuthProxy:
        proxy = self

        class Handler(QuietHandler):
            def serve(self, method: str) -> None:
                if method not in ("GET", "POST"):
                    self.send_error(501, f"Unsupported method ({method!r})")
                    return
                body = self.read_body()
                headers = {k: v for k, v in self.headers.items()}
                proxy.seen.append(headers)
                refused = proxy.check(method, self.path, headers, body)
                if refused is not None:
                    code, message = refused
                    self._reply(code, "text/plain", message.encode())
                    return
                req = urllib.request.Request(
                    proxy.upstream + self.path, data=body if method == "POST" else None,
                    method=method,
                    headers={k: v for k, v in headers.items()
                             if k.lower() in ("content-type", "accept")})
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        self._reply(resp.status, resp.headers.get("Content-Type", ""),
                                    resp.read())
                except urllib.error.HTTPError as err:
                    self._reply(err.code, err.headers.get("Content-Type", ""), err.read())

            def _reply(self, code: int, ctype: str, data: bytes) -> None:
                self.reply(code, data, {"Content-Type": ctype or "application/octet-stream"})

        self._server.start(Handler, tls=self.tls)
        return self

    @property
    def url(self) -> str:
        return self._server.url

    def stop(self) -> None:
        self._server.stop()


def require_headers(expected: Mapping[str, str]) -> Check:
    def check(method: str, path: str, headers: Mapping[str, str], body: bytes
              ) -> tuple[int, str] | None:
        lower = {k.lower(): v for k, v in headers.items()}
        for name, value in expected.items():
            if lower.get(name.lower()) != value:
                return 401, f"missing or wrong {name}"
        return None
    return check


def make_tls(workdir: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server-key.pem): a CA and a certificate it signed for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scaler test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (workdir / "ca.pem", workdir / "server.pem", workdir / "server-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def sigv4_check(access_key: str, secret_key: str, region: str, service: str = "aps",
                host: Callable[[], str] = lambda: "") -> Check:
    """Verifies AWS SigV4 as AWS does: rebuild the canonical request from what arrived (the
    headers the client says it signed, its X-Amz-Date), sign it with the same credentials
    (botocore) and compare signatures; also checks the scope's key, region and service."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(access_key, secret_key)

    def check(method: str, path: str, headers: Mapping[str, str], body: bytes
              ) -> tuple[int, str] | None:
        lower = {k.lower(): v for k, v in headers.items()}
        auth = lower.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return 403, "Missing Authentication Token"
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        key, date, reg, svc, _ = parts["Credential"].split("/")
        if (key, reg, svc) != (access_key, region, service):
            return 403, "The security token included in the request is invalid"
        signed_names = parts["SignedHeaders"].split(";")
        url = f"http://{lower['host']}{path}"
        req = AWSRequest(method=method, url=url, data=body,
                         headers={n: lower[n] for n in signed_names if n in lower})
        req.context["timestamp"] = lower.get("x-amz-date", "")
        signer = SigV4Auth(creds, service, region)
        canonical = signer.canonical_request(req)
        expected = signer.signature(signer.string_to_sign(req, canonical), req)
        if expected != parts["Signature"]:
            return 403, ("The request signature we calculated does not match the signature "
                         "you provided")
        return None
    return check
