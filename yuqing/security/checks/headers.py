"""HTTP security headers, cookie flags, server version disclosure and directory listings."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.security.checks.base import LOW, MEDIUM, Check, CheckContext, Outcome, Problem, page_url
from yuqing.security.guard import Target

# Directories that often end up browsable on school sites (a fixed, short list).
LISTING_PATHS = ("/", "/upload/", "/uploads/", "/images/", "/files/")
_LISTING = re.compile(
    r"<title>\s*(Index of /|Directory listing for /)|\[To Parent Directory\]", re.I
)
_VERSION = re.compile(r"\d+(\.\d+)+")
# Splits a folded Set-Cookie header at a comma that starts the next cookie (not an Expires date).
_COOKIE_SPLIT = re.compile(r",\s*(?=[^;,=\s]+=)")


def split_cookies(value: str) -> list[str]:
    return [c.strip() for c in _COOKIE_SPLIT.split(value) if c.strip()]


class Headers(Check):
    key = "headers"
    label = gettext_lazy("Security headers, cookies and disclosure")

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        async with target.http_client(total_timeout=30) as client:
            result = await target.get(client, ctx.base_url, max_bytes=2 * 1024 * 1024)
            if result.status is None:
                return Outcome(error=result.error_message or _("No answer"))
            problems = self._headers(result.headers, ctx.base_url.startswith("https://"))
            listings = []
            for path in LISTING_PATHS:
                url = page_url(ctx, path)
                page = (
                    result if path == "/" and url.rstrip("/") == ctx.base_url.rstrip("/") else None
                )
                page = page or await target.get(client, url, max_bytes=256 * 1024)
                if page.status == 200 and _LISTING.search(page.text()[:5000]):
                    listings.append(path)
        if listings:
            problems.append(
                Problem(
                    "listing",
                    MEDIUM,
                    _("Directory listing is on"),
                    _("Anyone can browse the files in: %(paths)s") % {"paths": ", ".join(listings)},
                    _("Turn off directory listing (autoindex) in the web server."),
                    {"paths": listings},
                )
            )
        missing = [p.evidence.get("header") for p in problems if p.key.startswith("header:")]
        summary = (
            _("Missing: %(names)s") % {"names": ", ".join(str(m) for m in missing)}
            if missing
            else _("Security headers present")
        )
        return Outcome(problems, summary, {"status": result.status, "headers": result.headers})

    def _headers(self, headers: dict[str, str], https: bool) -> list[Problem]:
        problems: list[Problem] = []
        csp = headers.get("content-security-policy", "")
        wanted: list[tuple[str, bool, int, str]] = [
            (
                "content-security-policy",
                bool(csp),
                LOW,
                _("Without it, injected scripts and spam links run freely."),
            ),
            (
                "x-frame-options",
                "x-frame-options" in headers or "frame-ancestors" in csp,
                LOW,
                _("Other sites can frame the pages (clickjacking)."),
            ),
            (
                "x-content-type-options",
                headers.get("x-content-type-options", "").lower() == "nosniff",
                LOW,
                _("Browsers may guess file types and run uploads as scripts."),
            ),
            (
                "referrer-policy",
                "referrer-policy" in headers,
                LOW,
                _("Full addresses of pages leak to other sites."),
            ),
        ]
        if https:
            wanted.append(
                (
                    "strict-transport-security",
                    "strict-transport-security" in headers,
                    MEDIUM,
                    _("Visitors can be downgraded to unencrypted HTTP."),
                )
            )
        for name, present, severity, why in wanted:
            if not present:
                problems.append(
                    Problem(
                        f"header:{name}",
                        severity,
                        _("Missing security header %(name)s") % {"name": name},
                        why,
                        _("Add the header in the web server configuration."),
                        {"header": name},
                    )
                )
        for name in ("server", "x-powered-by", "x-aspnet-version"):
            value = headers.get(name, "")
            if value and _VERSION.search(value):
                problems.append(
                    Problem(
                        f"disclosure:{name}",
                        LOW,
                        _("The server tells its software version"),
                        f"{name}: {value}",
                        _("Hide version numbers (e.g. server_tokens off, expose_php Off)."),
                        {"header": name, "value": value},
                    )
                )
        for cookie in split_cookies(headers.get("set-cookie", "")):
            cname = cookie.split("=", 1)[0].strip()
            flags = {part.strip().split("=", 1)[0].lower() for part in cookie.split(";")[1:]}
            lacking = [
                flag
                for flag, needed in (("HttpOnly", True), ("Secure", https), ("SameSite", True))
                if needed and flag.lower() not in flags
            ]
            if lacking:
                problems.append(
                    Problem(
                        f"cookie:{cname}",
                        MEDIUM if "HttpOnly" in lacking else LOW,
                        _("Cookie %(name)s lacks %(flags)s")
                        % {"name": cname, "flags": ", ".join(lacking)},
                        _("Cookies without these flags can be stolen or sent by other sites."),
                        _("Set the flags where the application creates the cookie."),
                        {"cookie": cname, "lacking": lacking},
                    )
                )
        return problems
