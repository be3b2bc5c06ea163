"""The one gate every check goes through before it touches the network.

A check never receives a URL or an address to contact: it receives a ``Target`` built here
from a registered asset, and every connection it makes goes through that target:

- ``target_for(asset)`` refuses assets that are not authorised for checks, or not of a kind
  that can be checked, or without an address;
- HTTP goes through ``Target.get``: the URL's host must be one of the asset's hosts (redirects
  are followed hop by hop and each hop is checked again), the request is made with the
  project's ``HttpClient`` whose allow list is built from this asset only, and its resolver
  refuses every other name;
- raw TCP (ports, TLS) goes through ``Target.open_connection``: the host must be the asset's,
  and every address it resolves to is checked — private and other non-public addresses only
  when the asset says it lives on the intranet. Loopback, link-local (cloud metadata),
  unspecified and multicast addresses are never the school's intranet: they are the server
  itself and its host, so only the operator's allow-list (``FETCH_ALLOW_HOSTS``) opens them
  (and then still only for an asset on the intranet).

Everything a run reached is recorded in ``Target.contacted`` and stored on the check run.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from yuqing.lib.http import (
    REDIRECT_STATUSES,
    BlockedAddressError,
    ErrorKind,
    HttpClient,
    HttpResult,
    blocked_reason,
)


class NotAuthorised(BlockedAddressError):
    """The target is not a registered asset authorised for checks (or not this asset's)."""


def _norm(host: str) -> str:
    return host.strip().lower().strip("[]").rstrip(".")


class _AssetResolver(AbstractResolver):
    """Resolves the asset's own names only; anything else fails before DNS is asked."""

    def __init__(self, target: Target) -> None:
        self.target = target

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self.target.resolve(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=addr,
                port=port,
                family=socket.AF_INET6 if ":" in addr else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for addr in addresses
        ]

    async def close(self) -> None:
        return None


@dataclass
class Target:
    asset_id: int
    hosts: frozenset[str]
    allow_private: bool
    base_url: str
    expected_ports: tuple[int, ...] = ()
    contacted: list[str] = field(default_factory=list)
    # Tests replace name resolution with a table; None means the system resolver.
    static_names: dict[str, list[str]] | None = None
    # Hosts the operator allowed past the address guard (FETCH_ALLOW_HOSTS).
    operator_hosts: frozenset[str] = frozenset()

    # ----------------------------------------------------------------- the checks themselves

    def check_host(self, host: str) -> str:
        host = _norm(host)
        if host not in self.hosts:
            raise NotAuthorised(f"{host} is not an address of this asset")
        return host

    def check_url(self, url: str) -> URL:
        parsed = URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise NotAuthorised(f"not an http(s) URL: {url}")
        self.check_host(parsed.host)
        return parsed

    def check_address(self, host: str, address: str) -> None:
        reason = blocked_reason(address)
        if reason is None:
            return
        if not _intranet(reason) and _norm(host) not in self.operator_hosts:
            # The server itself or its host (metadata service): a school's setting never
            # reaches it, whatever the asset says.
            raise NotAuthorised(f"{host} resolves to {address} ({reason}); not checked")
        if not self.allow_private:
            raise NotAuthorised(
                f"{host} resolves to {address} ({reason}); mark the asset as on the intranet "
                "to check it"
            )

    async def resolve(self, host: str, port: int = 0) -> list[str]:
        host = self.check_host(host)
        addresses = [host] if _is_ip(host) else await self._lookup(host, port)
        for address in addresses:
            self.check_address(host, address)
        return addresses

    async def _lookup(self, host: str, port: int) -> list[str]:
        if self.static_names is not None:
            found = self.static_names.get(host)
            if not found:
                raise OSError(socket.EAI_NONAME, f"{host} does not resolve")
            return list(found)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        seen: list[str] = []
        for info in infos:
            addr = str(info[4][0])
            if addr not in seen:
                seen.append(addr)
        return seen

    # ----------------------------------------------------------------- connections

    async def open_connection(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        timeout: float = 10.0,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP (or TLS) connection to the asset, after the host and address are checked."""
        addresses = await self.resolve(host, port)
        last: BaseException | None = None
        for address in addresses:
            self.contacted.append(f"{address}:{port}")
            try:
                async with asyncio.timeout(timeout):
                    return await asyncio.open_connection(
                        address,
                        port,
                        ssl=ssl_context,
                        server_hostname=(server_hostname or _norm(host)) if ssl_context else None,
                    )
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                last = exc
        assert last is not None
        raise last

    def http_client(self, **kwargs: Any) -> HttpClient:
        # The project's client, allowed to reach private addresses of this asset's hosts only
        # (and only when the asset says so); its resolver refuses every other name.
        return HttpClient(
            allow_hosts=sorted(self.hosts) if self.allow_private else (),
            resolver=_AssetResolver(self),
            **kwargs,
        )

    async def get(
        self,
        client: HttpClient,
        url: str,
        *,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 5,
        method: str = "GET",
    ) -> HttpResult:
        """GET within the asset: a redirect to anything outside it is not followed."""
        current = url
        hops: list[str] = []
        while True:
            try:
                parsed = self.check_url(current)
                host = _norm(parsed.host or "")
                if _is_ip(host):  # names are checked by the asset resolver, per address
                    self.check_address(host, host)
            except NotAuthorised as exc:
                if not hops:
                    raise  # the check itself asked for something outside the asset
                # A redirect out of the asset is not followed; the hop is the answer.
                result = HttpResult(url=url, final_url=current, redirects=hops)
                result.error, result.error_message = ErrorKind.BLOCKED_ADDRESS, exc.message
                return result
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            self.contacted.append(f"{host}:{port}")
            result = await client.request(
                method, current, max_bytes=max_bytes, follow_redirects=False
            )
            if result.error is ErrorKind.BLOCKED_ADDRESS and not hops:
                raise NotAuthorised(result.error_message)
            location = result.headers.get("location")
            if not (follow_redirects and result.status in REDIRECT_STATUSES and location):
                result.url = url
                result.redirects = hops
                return result
            if len(hops) >= max_redirects:
                result.error = ErrorKind.TOO_MANY_REDIRECTS
                result.error_message = f"more than {max_redirects} redirects"
                return result
            current = str(URL(current).join(URL(location)))
            hops.append(current)


def _intranet(reason: str) -> bool:
    """Whether ``blocked_reason`` said private or shared (CGNAT) space, which is what an
    intranet uses, rather than loopback, link-local, unspecified, multicast or reserved."""
    return reason.removeprefix("IPv4-mapped ") in ("private address", "non-global address")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def hosts_of(asset: Any) -> frozenset[str]:
    hosts = {h for h in (asset.target_host, _norm(asset.host)) if h}
    if asset.url:
        hosts.add(_norm(urlsplit(asset.url).hostname or ""))
    hosts.discard("")
    return frozenset(hosts)


def target_for(asset: Any, *, static_names: dict[str, list[str]] | None = None) -> Target:
    """The only way to a ``Target``: a registered, authorised, checkable asset."""
    if asset is None or getattr(asset, "pk", None) is None:
        raise NotAuthorised("not a registered asset")
    if not asset.scannable:
        raise NotAuthorised(f"{asset.get_kind_display()} assets are not checked over the network")
    if not asset.authorised_for_scanning or asset.authorised_at is None:
        raise NotAuthorised("the asset is not authorised for checks")
    hosts = hosts_of(asset)
    if not hosts:
        raise NotAuthorised("the asset has no address")
    return Target(
        asset_id=asset.pk,
        hosts=hosts,
        allow_private=bool(asset.allow_private),
        base_url=asset.base_url,
        expected_ports=tuple(int(p) for p in asset.expected_ports or ()),
        static_names=static_names,
        operator_hosts=_operator_hosts(),
    )


def _operator_hosts() -> frozenset[str]:
    from django.conf import settings

    return frozenset(_norm(h) for h in getattr(settings, "FETCH_ALLOW_HOSTS", []) if h)


async def lookup_only(host: str, timeout: float = 5.0) -> bool | None:
    """Whether a name resolves, asking DNS only: no connection is made to the host.

    Used for outbound links to other sites: they are not ours to contact, but a name that no
    longer resolves is an expired domain someone else may register. None: could not tell.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            await loop.getaddrinfo(host, 80, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            return False
        return None
    except (TimeoutError, OSError):
        return None
    return True


def ports_in(values: Iterable[Any]) -> list[int]:
    out: set[int] = set()
    for value in values:
        port = int(value)
        if not 1 <= port <= 65535:
            raise ValueError(f"{port} is not a TCP port")
        out.add(port)
    return sorted(out)
