"""The one rule: nothing that is not a registered, authorised asset is ever contacted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.security.conftest import Tripwire, Web, make_asset, run
from yuqing.security import guard
from yuqing.security.checks import CHECKS
from yuqing.security.models import Asset, CheckRun

pytestmark = pytest.mark.django_db


def test_it_never_contacts_an_unauthorised_asset(school: Any, tripwire: Tripwire) -> None:
    asset = make_asset(school, f"http://127.0.0.1:{tripwire.port}/", authorised=False,
                       scan_ports=[tripwire.port], expected_ports=[tripwire.port])  # fmt: skip
    for key in CHECKS:
        result = run(asset, key)
        assert result.status == CheckRun.Status.REFUSED, key
        assert result.contacted == []


def test_it_refuses_an_unregistered_target(tripwire: Tripwire) -> None:
    stranger = Asset(kind="website", url=f"http://127.0.0.1:{tripwire.port}/")
    with pytest.raises(guard.NotAuthorised):
        guard.target_for(stranger)
    with pytest.raises(guard.NotAuthorised):
        guard.target_for(None)


def test_it_refuses_private_addresses_unless_the_asset_allows_them(
    school: Any, tripwire: Tripwire
) -> None:
    asset = make_asset(school, f"http://127.0.0.1:{tripwire.port}/", allow_private=False,
                       scan_ports=[tripwire.port])  # fmt: skip
    for key in ("availability", "headers", "ports", "exposed_paths"):
        result = run(asset, key)
        assert result.status in (CheckRun.Status.REFUSED, CheckRun.Status.ERROR), key
        assert "127.0.0.1" not in " ".join(result.contacted)


def test_it_refuses_hosts_that_are_not_the_assets(school: Any, tripwire: Tripwire) -> None:
    asset = make_asset(school, "http://127.0.0.1:9/")
    target = guard.target_for(asset)

    async def attempt() -> None:
        await target.open_connection("localhost", tripwire.port)

    with pytest.raises(guard.NotAuthorised):
        asyncio.run(attempt())


def test_it_does_not_follow_a_redirect_out_of_the_asset(
    school: Any, web: Web, tripwire: Tripwire
) -> None:
    web.page("/", "", status=302, Location=f"http://localhost:{tripwire.port}/")
    asset = make_asset(school, web.url)
    result = run(asset, "availability")
    assert result.status == CheckRun.Status.PROBLEMS
    assert "not an address of this asset" in result.summary


def test_it_withdraws_authorisation_when_the_address_changes(
    school: Any, people: dict[str, Any]
) -> None:
    from yuqing.core.tenancy import school_scope
    from yuqing.security.services import asset_save

    asset = make_asset(school, "http://127.0.0.1:9/")
    with school_scope(school):
        asset_save(asset=asset, user=people["security"], url="http://127.0.0.1:10/")
        asset.refresh_from_db()
    assert not asset.authorised_for_scanning
    with pytest.raises(guard.NotAuthorised):
        guard.target_for(asset)


def test_it_does_not_check_accounts_and_chats_over_the_network(school: Any) -> None:
    asset = make_asset(school, kind="official_account", name="育才中学公众号", host="127.0.0.1")
    with pytest.raises(guard.NotAuthorised):
        guard.target_for(asset)
