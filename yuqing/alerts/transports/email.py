"""E-mail over SMTP: multipart/alternative (text + HTML), Chinese subject lines RFC 2047-encoded.

smtplib is blocking, so one attempt runs in a worker thread (``asyncio.to_thread``) and the
async contract holds. The SMTP host gets the same private-address guard as webhooks: a
school's intranet relay (10.x, 192.168.x) must be on the allow-list the deployment passes in
(``YUQING_FETCH_ALLOW_HOSTS``), otherwise a school administrator could point "e-mail" at
any internal machine and port. The address is checked after resolving and the connection is
pinned to the checked address, while TLS still verifies the certificate for the host name.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from yuqing.lib.http import AddressPolicy, BlockedAddressError, HttpClient

from .base import Preview, SendResult, Transport, truncate
from .message import Message, clean

SECURITY_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
MAX_RECIPIENTS = 50
DEFAULT_SMTP_TIMEOUT = 15.0
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def recipients(config: Mapping[str, Any]) -> list[str]:
    raw = config.get("to") or []
    if isinstance(raw, str):
        raw = re.split(r"[\s,，;；]+", raw)
    return [str(r).strip() for r in raw if str(r).strip()]


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


class _PinnedSocket(smtplib.SMTP):
    """SMTP that connects to an address already checked by the guard, not a fresh lookup.

    Overrides smtplib's (private but long-stable) ``_get_socket``; ``self._host`` stays the
    configured name, so STARTTLS and SMTPS verify the certificate against it.
    """

    pinned_address: str = ""
    _host: str  # set by smtplib.SMTP.__init__; typeshed does not declare it

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection(
            (self.pinned_address or host, port), timeout, self.source_address
        )


class _PinnedSMTP(_PinnedSocket):
    pass


class _PinnedSMTPSSL(smtplib.SMTP_SSL, _PinnedSocket):
    # MRO: SMTP_SSL._get_socket -> _PinnedSocket._get_socket (pinned) -> wrapped in TLS.
    pass


class EmailTransport(Transport):
    kind = "email"
    label = "E-mail"

    def __init__(
        self,
        *,
        allow_custom_endpoint: bool = False,
        allow_hosts: Any = (),
        timeout: float = DEFAULT_SMTP_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            allow_custom_endpoint=allow_custom_endpoint, allow_hosts=allow_hosts, timeout=timeout
        )
        # Tests pass a context that trusts their own CA; production uses the system store.
        self.ssl_context = ssl_context

    @classmethod
    def validate_config(
        cls, config: Mapping[str, Any], *, allow_custom_endpoint: bool = False
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        host = str(config.get("host") or "").strip()
        if not host:
            errors["host"] = "Enter the SMTP server's host name."
        elif not (_HOSTNAME.fullmatch(host) or _is_ip(host)):
            errors["host"] = "Enter a host name such as smtp.example.edu.cn or an IP address."
        security = str(config.get("security") or "starttls")
        if security not in SECURITY_PORTS:
            errors["security"] = "Choose STARTTLS, SSL/TLS or none."
        port = config.get("port")
        if port not in (None, ""):
            try:
                number = int(port)
            except (TypeError, ValueError):
                number = 0
            if not 1 <= number <= 65535:
                errors["port"] = "Enter a port between 1 and 65535 (usually 465 or 587)."
        timeout = config.get("timeout")
        if timeout not in (None, ""):
            try:
                seconds = float(timeout)
            except (TypeError, ValueError):
                seconds = 0
            if not 1 <= seconds <= 120:
                errors["timeout"] = "Enter a timeout between 1 and 120 seconds."
        sender = str(config.get("from_addr") or "").strip()
        if not sender:
            errors["from_addr"] = "Enter the sender address."
        elif not _EMAIL.fullmatch(sender):
            errors["from_addr"] = f"{sender!r} is not an e-mail address."
        to = recipients(config)
        bad = [r for r in to if not _EMAIL.fullmatch(r)]
        if not to:
            errors["to"] = "Enter at least one recipient."
        elif bad:
            errors["to"] = f"Not an e-mail address: {', '.join(bad[:3])}."
        elif len(to) > MAX_RECIPIENTS:
            errors["to"] = f"Enter at most {MAX_RECIPIENTS} recipients."
        if config.get("password") and not config.get("username"):
            errors["username"] = "A password needs a user name."
        for name in ("username", "password"):
            # smtplib's AUTH encodes credentials as ASCII; servers issue ASCII ones anyway.
            if not str(config.get(name) or "").isascii():
                errors[name] = "Use only ASCII letters, digits and symbols here."
        return errors

    # ---------------------------------------------------------------- building

    @staticmethod
    def build_email(
        config: Mapping[str, Any], message: Message, *, delivery_id: str = ""
    ) -> EmailMessage:
        sender = str(config.get("from_addr") or "").strip()
        name = clean(config.get("from_name") or "舆情监测 Yuqing", 60)
        to = recipients(config)
        email = EmailMessage()  # policy "default": non-ASCII headers become RFC 2047 words
        email["Subject"] = message.subject
        email["From"] = Address(display_name=name, addr_spec=sender) if sender else ""
        email["To"] = ", ".join(to)
        email["Date"] = format_datetime(datetime.now(UTC))
        domain = sender.rpartition("@")[2] or "yuqing.invalid"
        email["Message-ID"] = make_msgid(domain=domain)
        # RFC 3834: tells vacation responders and ticket systems not to answer.
        email["Auto-Submitted"] = "auto-generated"
        email["X-Yuqing-Level"] = message.level_info.name
        if delivery_id:
            email["X-Yuqing-Delivery"] = delivery_id
        email.set_content(message.render_text("text"), charset="utf-8")
        email.add_alternative(message.render_html("email"), subtype="html", charset="utf-8")
        for filename, content_type, path in message.attachments:
            maintype, _slash, subtype = content_type.partition("/")
            with open(path, "rb") as fh:
                email.add_attachment(
                    fh.read(), maintype=maintype, subtype=subtype, filename=filename
                )
        return email

    @classmethod
    def preview(cls, message: Message) -> Preview:
        return Preview(
            kind=cls.kind,
            subject=message.subject,
            text=message.render_text("text"),
            html=message.render_html("email"),
        )

    # ---------------------------------------------------------------- sending

    async def send(
        self,
        config: Mapping[str, Any],
        message: Message,
        *,
        client: HttpClient | None = None,
        delivery_id: str | None = None,
    ) -> SendResult:
        refused = self.config_errors(config)
        if refused is not None:
            return refused
        policy = client.policy if client is not None else AddressPolicy.from_hosts(self.allow_hosts)
        email = self.build_email(config, message, delivery_id=delivery_id or "")
        return await asyncio.to_thread(self._deliver, config, email, policy)

    def _resolve(self, host: str, port: int, policy: AddressPolicy) -> str:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        refusal: BlockedAddressError | None = None
        for _family, _type, _proto, _name, sockaddr in infos:
            address = str(sockaddr[0])
            try:
                policy.check(host, address)
            except BlockedAddressError as exc:
                refusal = exc
                continue
            return address
        raise refusal or BlockedAddressError(f"{host} did not resolve")

    def _deliver(
        self, config: Mapping[str, Any], email: EmailMessage, policy: AddressPolicy
    ) -> SendResult:
        host = str(config["host"]).strip()
        security = str(config.get("security") or "starttls")
        port = int(config.get("port") or SECURITY_PORTS[security])
        timeout = float(config.get("timeout") or self.timeout)
        context = self.ssl_context or ssl.create_default_context()
        to = recipients(config)
        smtp: _PinnedSocket | None = None
        try:
            address = self._resolve(host, port, policy)
            # gethostname, not smtplib's default getfqdn: a reverse lookup on an isolated
            # intranet can hang for the whole timeout.
            helo = socket.gethostname() or "localhost"
            if security == "ssl":
                smtp = _PinnedSMTPSSL(local_hostname=helo, timeout=timeout, context=context)
            else:
                smtp = _PinnedSMTP(local_hostname=helo, timeout=timeout)
            smtp.pinned_address = address
            # smtplib only records the name for certificate checks when given to __init__,
            # which would connect before the address is pinned.
            smtp._host = host
            smtp.connect(host, port)
            if security == "starttls":
                smtp.starttls(context=context)
            username = str(config.get("username") or "")
            if username:
                smtp.login(username, str(config.get("password") or ""))
            refused = smtp.send_message(email, to_addrs=to)
        except BlockedAddressError as exc:
            return SendResult(ok=False, error=f"blocked_address: {exc.message}")
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(
                f"{r}: {c} {m.decode('utf-8', 'replace')}" for r, (c, m) in exc.recipients.items()
            )
            return SendResult(
                ok=False,
                status=codes[0] if codes else None,
                response=truncate(detail),
                retryable=bool(codes) and all(400 <= c < 500 for c in codes),
                error="the server refused every recipient",
            )
        except smtplib.SMTPResponseException as exc:  # auth, sender, data refusals
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return SendResult(
                ok=False,
                status=exc.smtp_code,
                response=truncate(text),
                retryable=400 <= exc.smtp_code < 500,
                error=f"SMTP {exc.smtp_code}: {type(exc).__name__}",
            )
        except smtplib.SMTPNotSupportedError as exc:
            return SendResult(ok=False, error=f"the server does not support this: {exc}")
        except smtplib.SMTPServerDisconnected as exc:
            return SendResult(ok=False, retryable=True, error=f"connect: {exc or 'disconnected'}")
        except smtplib.SMTPException as exc:
            return SendResult(ok=False, error=f"SMTP: {exc}")
        except (ssl.SSLError, ssl.CertificateError) as exc:
            # A certificate or protocol mismatch needs an administrator, not a retry.
            return SendResult(ok=False, error=f"tls: {exc}")
        except TimeoutError as exc:
            return SendResult(ok=False, retryable=True, error=f"timeout: {exc or 'timed out'}")
        except socket.gaierror as exc:
            return SendResult(ok=False, retryable=True, error=f"dns: {exc}")
        except OSError as exc:
            return SendResult(ok=False, retryable=True, error=f"connect: {exc}")
        except Exception as exc:  # the contract: a delivery attempt never raises
            return SendResult(ok=False, error=f"unexpected: {type(exc).__name__}: {exc}")
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        response = f"accepted by {host} for {len(to) - len(refused)} of {len(to)} recipients"
        if refused:
            lost = ", ".join(sorted(refused))
            response += f"; refused: {lost}"
        return SendResult(ok=True, status=250, response=truncate(response))
