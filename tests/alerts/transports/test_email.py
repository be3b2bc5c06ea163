"""E-mail: a real SMTP server (aiosmtpd) on 127.0.0.1 receives what the transport sends."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.alerts.transports.helpers import send
from tests.monitor.collect.servers import connect_tripwire
from yuqing.alerts.transports import EmailTransport, Message

FROM = "yuqing@school.example.cn"
TO = ["vice.principal@school.example.cn", "office@school.example.cn"]


class Inbox:
    """aiosmtpd handler keeping every envelope; RCPT to refused@… answers ``refuse_with``."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.refuse_with = "550 5.1.1 no such user"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("refused"):
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a certificate naming 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cert.pem").write_bytes(cert_pem)
        (Path(tmp) / "key.pem").write_bytes(key_pem)
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(Path(tmp) / "cert.pem", Path(tmp) / "key.pem")
    client_ctx = ssl.create_default_context(cadata=cert_pem.decode())
    return server_ctx, client_ctx


@contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def config(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_addr": FROM,
        "from_name": "育才中学舆情监测",
        "to": ", ".join(TO),
        **extra,
    }


def parsed(envelope: Envelope) -> email.message.EmailMessage:
    raw = envelope.original_content or envelope.content
    assert isinstance(raw, bytes)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def test_it_delivers_text_and_html_with_an_encoded_chinese_subject(message: Message) -> None:
    with smtp_server() as (inbox, port):
        result = send(EmailTransport(), config(port), message, delivery_id="dlv-9")

    assert result.ok, result
    assert result.status == 250 and "2 of 2 recipients" in result.response
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == FROM
    assert envelope.rcpt_tos == TO
    raw = envelope.original_content
    assert isinstance(raw, bytes)
    raw_subject = next(line for line in raw.split(b"\r\n") if line.startswith(b"Subject:"))
    assert raw_subject.isascii() and b"=?utf-8?" in raw_subject.lower()
    msg = parsed(envelope)
    subject = str(make_header(decode_header(msg["Subject"])))
    assert subject == "【红色预警】育才中学食堂多名学生呕吐送医"
    assert msg["From"].addresses[0].display_name == "育才中学舆情监测"
    assert msg["To"] == ", ".join(TO)
    assert msg["Date"] and msg["Message-ID"].endswith("@school.example.cn>")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Yuqing-Delivery"] == "dlv-9"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    assert "30 分钟内新增 35 条" in text.get_content()
    assert "查看详情：https://yuqing.school.example/alerts/42" in text.get_content()
    assert 'href="https://yuqing.school.example/alerts/42"' in html.get_content()
    assert "border-top:6px solid #cf222e" in html.get_content()


def test_it_escapes_hostile_titles_in_the_html_part(hostile_message: Message) -> None:
    with smtp_server() as (inbox, port):
        assert send(EmailTransport(), config(port), hostile_message).ok

    html = parsed(inbox.envelopes[0]).get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<script>" not in content and "&lt;script&gt;" in content
    assert "<img" not in content and "<b>" not in content
    assert "\u202e" not in content


def test_it_sends_over_starttls_and_logs_in(
    message: Message, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_ctx, client_ctx = tls
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        if data.password == b"s3cret-pw":
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    with smtp_server(
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    ) as (inbox, port):
        transport = EmailTransport(ssl_context=client_ctx)
        cfg = config(port, security="starttls", username="yuqing", password="s3cret-pw")
        result = send(transport, cfg, message)
        wrong = send(transport, {**cfg, "password": "wrong"}, message)

    assert result.ok, result
    assert len(inbox.envelopes) == 1
    assert logins[0] == (b"yuqing", b"s3cret-pw")
    assert (wrong.ok, wrong.retryable, wrong.status) == (False, False, 535)


def test_it_sends_over_implicit_tls(
    message: Message, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_ctx, client_ctx = tls
    with smtp_server(ssl_context=server_ctx) as (inbox, port):
        result = send(EmailTransport(ssl_context=client_ctx), config(port, security="ssl"), message)
        untrusted = send(EmailTransport(), config(port, security="ssl"), message)

    assert result.ok, result
    assert len(inbox.envelopes) == 1
    assert not untrusted.ok and not untrusted.retryable and untrusted.error.startswith("tls")


def test_it_reports_refused_recipients_by_their_smtp_code(message: Message) -> None:
    with smtp_server() as (inbox, port):
        refused = send(EmailTransport(), config(port, to="refused@school.example.cn"), message)
        inbox.refuse_with = "451 4.3.0 try again later"
        deferred = send(EmailTransport(), config(port, to="refused@school.example.cn"), message)
        partial = send(
            EmailTransport(), config(port, to=f"{TO[0]}, refused@school.example.cn"), message
        )

    assert (refused.ok, refused.retryable, refused.status) == (False, False, 550)
    assert (deferred.ok, deferred.retryable, deferred.status) == (False, True, 451)
    assert partial.ok and "refused: refused@school.example.cn" in partial.response
    assert inbox.envelopes[0].rcpt_tos == [TO[0]]


def test_it_retries_when_the_mail_server_is_down(message: Message) -> None:
    result = send(EmailTransport(), config(free_port()), message)

    assert not result.ok and result.retryable
    assert result.error.startswith("connect")


def test_it_refuses_a_private_smtp_host_that_is_not_allowed(message: Message) -> None:
    with smtp_server() as (inbox, port), connect_tripwire() as attempts:
        loopback = send(EmailTransport(), config(port), message, allow=())
        intranet = send(EmailTransport(), config(25, host="10.1.2.3"), message, allow=())

    for result in (loopback, intranet):
        assert not result.ok and not result.retryable
        assert result.error.startswith("blocked_address")
    assert inbox.envelopes == [] and attempts == []


def test_it_validates_host_port_and_addresses() -> None:
    errors = EmailTransport.validate_config(
        {
            "host": "smtp server",
            "port": "99999",
            "security": "tls1.0",
            "from_addr": "not-an-address",
            "to": "ok@school.example.cn, broken@",
            "password": "密码",
        }
    )

    assert set(errors) == {"host", "port", "security", "from_addr", "to", "username", "password"}
    assert "Not an e-mail address: broken@" in errors["to"]
    assert (
        EmailTransport.validate_config(
            {"host": "smtp.exmail.qq.com", "security": "ssl", "from_addr": FROM, "to": TO}
        )
        == {}
    )
    assert (
        "at least one recipient"
        in EmailTransport.validate_config({"host": "smtp.exmail.qq.com", "from_addr": FROM})["to"]
    )


def test_it_gives_up_on_a_server_that_never_greets(message: Message) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts the connection; nobody ever answers
        port = silent.getsockname()[1]
        result = send(EmailTransport(), config(port, timeout=1), message)

    assert not result.ok and result.retryable
    assert "timed out" in result.error
