"""Security fixtures: real servers on 127.0.0.1 built to pass or fail each check, a tripwire
listener that fails the test if anything connects to it, and assets of the school."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from yuqing.core.tenancy import school_scope

FIXTURES = Path(__file__).parent / "fixtures"

Route = tuple[int, dict[str, str], bytes]


@pytest.fixture(autouse=True)
def _loopback_is_the_operators_to_open(settings: Any) -> None:
    # The test servers listen on 127.0.0.1; loopback is never a school's intranet, so only
    # the operator's allow-list opens it to checks (as a deployment would for a local site).
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]


@dataclass
class Web:
    """A small site: path -> (status, headers, body); every request path is kept."""

    routes: dict[str, Route] = field(default_factory=dict)
    default: Route = (404, {"Content-Type": "text/html"}, b"<html><body>not found</body></html>")
    seen: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    tls: ssl.SSLContext | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    def page(self, path: str, body: str | bytes, status: int = 200, **headers: str) -> None:
        data = body.encode() if isinstance(body, str) else body
        head = {"Content-Type": "text/html; charset=utf-8"}
        head.update({k.replace("_", "-"): v for k, v in headers.items()})
        self.routes[path] = (status, head, data)

    def start(self) -> None:
        web = self

        class Handler(BaseHTTPRequestHandler):
            # The default "BaseHTTP/0.6 Python/3.x" would count as version disclosure.
            server_version = "web"
            sys_version = ""

            def do_GET(self) -> None:
                web.seen.append(self.path)
                status, headers, body = web.routes.get(self.path, web.default)
                self.send_response(status)
                for name, value in headers.items():
                    for part in value.split("\n"):
                        self.send_header(name, part)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def web(settings: Any) -> Iterator[Web]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    site = Web()
    site.start()
    yield site
    site.stop()


@dataclass
class Tripwire:
    """A listener that must never be contacted: any connection is recorded and fails the test."""

    sock: socket.socket
    hits: list[Any] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def watch(self) -> None:
        def loop() -> None:
            while True:
                try:
                    conn, addr = self.sock.accept()
                except OSError:
                    return
                self.hits.append(addr)
                conn.close()

        threading.Thread(target=loop, daemon=True).start()


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    wire = Tripwire(sock)
    wire.watch()
    yield wire
    sock.close()
    assert wire.hits == [], f"the tripwire was contacted: {wire.hits}"


def make_cert(
    tmp: Path,
    *,
    names: tuple[str, ...] = ("127.0.0.1",),
    days: int = 365,
    expired: bool = False,
    ca: tuple[Any, Any] | None = None,
) -> tuple[Path, Path]:
    """A certificate for ``names`` (self-signed unless ``ca`` = (ca_cert, ca_key) is given)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=400), now - dt.timedelta(days=2))
        if expired
        else (
            now - dt.timedelta(days=1),
            now + dt.timedelta(days=days),
        )
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    issuer, signing_key = (ca[0].subject, ca[1]) if ca else (subject, key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(signing_key, hashes.SHA256())
    )
    tmp.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def make_ca(tmp: Path) -> tuple[Any, Any, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "育才中学 Test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, path


@pytest.fixture
def tls_web(settings: Any, tmp_path: Path) -> Iterator[Callable[..., Web]]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    sites: list[Web] = []

    def start(cert: Path, key: Path) -> Web:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        site = Web(tls=context)
        site.page("/", "<html><body>secure</body></html>")
        site.start()
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.stop()


def make_asset(school: Any, url: str = "", *, authorised: bool = True, **fields: Any) -> Any:
    from django.utils import timezone

    from yuqing.security.models import Asset

    values: dict[str, Any] = {
        "kind": "website",
        "name": f"site {url or fields.get('host', '')}",
        "url": url,
        "allow_private": True,
    }
    values.update(fields)
    with school_scope(school):
        asset = Asset.objects.create(**values)
        if authorised:
            asset.authorised_for_scanning = True
            asset.authorised_at = timezone.now()
            asset.save()
    return asset


def run(asset: Any, key: str) -> Any:
    from yuqing.security.services import check_run

    with school_scope(asset.school_id):
        return check_run(asset=asset, check_key=key)


def findings_of(asset: Any) -> dict[str, Any]:
    from yuqing.security.models import Finding

    with school_scope(asset.school_id):
        return {f.fingerprint.split(":", 3)[3]: f for f in Finding.objects.filter(asset=asset)}
