"""The site's certificate (validity, chain, host name, days to expiry) and TLS versions."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import warnings
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.security.checks.base import (
    CRITICAL,
    HIGH,
    MEDIUM,
    Check,
    CheckContext,
    Outcome,
    Problem,
    Stopwatch,
)
from yuqing.security.guard import Target

WARN_DAYS = 30
ALARM_DAYS = 7
OLD_VERSIONS = (("TLSv1.0", "TLSv1"), ("TLSv1.1", "TLSv1_1"))


def _host_matches(host: str, cert: Any) -> bool:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if san is not None:
        if ip is not None:
            return ip in san.get_values_for_type(x509.IPAddress)
        for name in san.get_values_for_type(x509.DNSName):
            name = name.lower().rstrip(".")
            if name == host or (
                name.startswith("*.") and host.count(".") >= 2 and host.split(".", 1)[1] == name[2:]
            ):
                return True
        return False
    common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return bool(common) and str(common[0].value).lower() == host


class Tls(Check):
    key = "tls"
    label = gettext_lazy("TLS certificate and versions")

    @classmethod
    def applies_to(cls, asset: Any) -> bool:
        return super().applies_to(asset) and asset.base_url.startswith("https://")

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        from cryptography import x509

        parts = urlsplit(ctx.base_url)
        host = (parts.hostname or "").lower()
        port = parts.port or 443
        watch = Stopwatch()
        # First look at the certificate whatever it is, then ask whether it is trusted.
        loose = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        loose.check_hostname = False
        loose.verify_mode = ssl.CERT_NONE
        try:
            _reader, writer = await target.open_connection(host, port, ssl_context=loose)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            return Outcome(
                error=_("No TLS connection: %(why)s") % {"why": str(exc) or type(exc).__name__}
            )
        sslobj = writer.get_extra_info("ssl_object")
        der = sslobj.getpeercert(binary_form=True) if sslobj else None
        version = sslobj.version() if sslobj else ""
        writer.close()
        if not der:
            return Outcome(error=_("The server sent no certificate."))
        cert = x509.load_der_x509_certificate(der)
        now = dt.datetime.now(dt.UTC)
        not_after = cert.not_valid_after_utc
        not_before = cert.not_valid_before_utc
        days_left = (not_after - now).days
        self_signed = cert.issuer == cert.subject
        data: dict[str, Any] = {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "not_before": not_before.isoformat(),
            "not_after": not_after.isoformat(),
            "days_left": days_left,
            "self_signed": self_signed,
            "version": version,
        }
        evidence = {k: data[k] for k in ("subject", "issuer", "not_after")}
        problems: list[Problem] = []
        if not_after < now:
            problems.append(
                Problem(
                    "expiry",
                    CRITICAL,
                    _("The certificate has expired"),
                    _("It expired on %(date)s.") % {"date": not_after.date()},
                    _("Renew the certificate and install it on the server now."),
                    evidence,
                )
            )
        elif not_before > now:
            problems.append(
                Problem("expiry", HIGH, _("The certificate is not valid yet"), "", "", evidence)
            )
        elif days_left <= ALARM_DAYS:
            problems.append(
                Problem(
                    "expiry",
                    HIGH,
                    _("The certificate expires in %(days)s days") % {"days": days_left},
                    _("It expires on %(date)s.") % {"date": not_after.date()},
                    _("Renew the certificate this week."),
                    evidence,
                )
            )
        elif days_left <= WARN_DAYS:
            problems.append(
                Problem(
                    "expiry",
                    MEDIUM,
                    _("The certificate expires in %(days)s days") % {"days": days_left},
                    _("It expires on %(date)s.") % {"date": not_after.date()},
                    _("Plan the renewal."),
                    evidence,
                )
            )
        if not _host_matches(host, cert):
            problems.append(
                Problem(
                    "hostname",
                    HIGH,
                    _("The certificate is for another name"),
                    _("%(host)s is not among the names of the certificate (%(subject)s).")
                    % {"host": host, "subject": data["subject"]},
                    _("Install a certificate issued for this address."),
                    evidence,
                )
            )
        chain_error = await self._verify(target, host, port, ctx)
        data["trusted"] = chain_error is None
        if chain_error is not None and not_after >= now:
            problems.append(
                Problem(
                    "chain",
                    HIGH,
                    _("The certificate is self-signed")
                    if self_signed
                    else _("The certificate chain is not trusted"),
                    chain_error,
                    _(
                        "Use a certificate from a trusted authority and install the "
                        "intermediate certificates too."
                    ),
                    evidence,
                )
            )
        data["old_versions"] = old = await self._old_versions(target, host, port)
        offered = [name for name, state in old.items() if state == "offered"]
        if offered:
            problems.append(
                Problem(
                    "versions",
                    MEDIUM,
                    _("Old TLS versions are offered: %(versions)s")
                    % {"versions": ", ".join(offered)},
                    _("TLS 1.0 and 1.1 are broken and no longer allowed by browsers."),
                    _("Allow TLS 1.2 and 1.3 only in the web server's configuration."),
                    {"offered": offered},
                )
            )
        summary = _("Certificate valid for %(days)s more days, %(version)s") % {
            "days": days_left,
            "version": version,
        }
        return Outcome(problems, summary, data, watch.ms)

    async def _verify(self, target: Target, host: str, port: int, ctx: CheckContext) -> str | None:
        strict = ssl.create_default_context()
        if ctx.ca_file:
            strict.load_verify_locations(cafile=ctx.ca_file)
        try:
            _reader, writer = await target.open_connection(host, port, ssl_context=strict)
        except ssl.SSLCertVerificationError as exc:
            return str(exc.verify_message or exc)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            return str(exc) or type(exc).__name__
        writer.close()
        return None

    async def _old_versions(self, target: Target, host: str, port: int) -> dict[str, str]:
        """ "offered", "refused", or "untested" where the local OpenSSL cannot speak it."""
        states: dict[str, str] = {}
        for label, attr in OLD_VERSIONS:
            version = getattr(ssl.TLSVersion, attr)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                    context.minimum_version = version
                    context.maximum_version = version
                    # Old versions need the old ciphers, which OpenSSL 3 hides below level 1.
                    context.set_ciphers("ALL:@SECLEVEL=0")
            except (ValueError, ssl.SSLError):
                states[label] = "untested"
                continue
            try:
                _reader, writer = await target.open_connection(
                    host, port, ssl_context=context, timeout=5
                )
            except ssl.SSLError as exc:
                text = str(exc).lower()
                local = "no protocols available" in text or (
                    "unsupported protocol" in text and ("internal" in text)
                )
                states[label] = "untested" if local else "refused"
                continue
            except (OSError, TimeoutError):
                states[label] = "refused"
                continue
            states[label] = "offered"
            writer.close()
        return states
