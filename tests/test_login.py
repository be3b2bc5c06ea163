"""Signing in: lockout, second factor, forced password change, session expiry, sign-out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import PASSWORD
from yuqing.accounts import services
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import all_schools

NOW = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)


def code_for(device: TOTPDevice) -> str:
    """What the person's phone shows right now."""
    return str(totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)).zfill(
        device.digits
    )


def sign_in(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def actions(**filters: Any) -> list[str]:
    return list(
        AuditEntry.unscoped.filter(**filters).order_by("id").values_list("action", flat=True)
    )


@pytest.fixture
def device(people: dict[str, Any]) -> TOTPDevice:
    return TOTPDevice.objects.create(user=people["admin"], name="phone", confirmed=True)


# --- Sign-in and lockout ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_sign_in_page_without_navigation() -> None:
    response = Client().get(reverse("accounts:login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'name="password"' in html
    assert 'lang="zh-hans"' in html
    assert reverse("monitor:index") not in html  # no module navigation before sign-in


@pytest.mark.django_db
def test_it_signs_in_and_goes_home(people: dict[str, Any]) -> None:
    client = Client()
    response = sign_in(client, "alice")
    assert response.status_code == 302 and response["Location"] == reverse("core:home")
    assert client.get(reverse("core:home")).status_code == 200


@pytest.mark.django_db
def test_it_locks_out_after_repeated_failures_and_records_it(
    people: dict[str, Any], school: Any
) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    client = Client(REMOTE_ADDR="10.6.6.6")
    with time_machine.travel(NOW, tick=False):
        for _ in range(limit - 1):
            assert sign_in(client, "alice", "wrong").status_code == 200
        locked = sign_in(client, "alice", "wrong")
        assert locked.status_code == 429
        # Now even the right password is refused, with a page that says for how long.
        response = sign_in(client, "alice")
        assert response.status_code == 429
        html = response.content.decode()
        minutes = round(settings.AXES_COOLOFF_TIME * 60)
        assert str(minutes) in html
        assert "_auth_user_id" not in client.session
    assert actions(action="accounts.locked_out", school=school) != []
    failed = AuditEntry.unscoped.filter(action="accounts.login_failed", school=school)
    assert failed.count() >= limit
    assert {e.ip for e in failed} == {"10.6.6.6"}

    # Another address is not locked out by this one (lockout is per name and address).
    assert sign_in(Client(REMOTE_ADDR="10.7.7.7"), "alice").status_code == 302

    with time_machine.travel(NOW + dt.timedelta(minutes=minutes + 1), tick=False):
        assert sign_in(client, "alice").status_code == 302


@pytest.mark.django_db
def test_it_renders_the_lockout_page_under_the_csp(people: dict[str, Any]) -> None:
    from tests.test_permissions import inline_code_in

    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        response = sign_in(client, "alice", "wrong")
    assert response.status_code == 429
    assert response.has_header("Content-Security-Policy")
    assert inline_code_in(response.content.decode()) == []


@pytest.mark.django_db
def test_it_signs_out_by_post_only(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["staff"])
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert "_auth_user_id" in client.session
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_it_does_not_redirect_to_another_site_after_sign_in(people: dict[str, Any]) -> None:
    client = Client()
    response = client.post(
        reverse("accounts:login") + "?next=https://evil.example/",
        {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and "evil" not in response["Location"]


# --- Session expiry -------------------------------------------------------------------------


def test_it_expires_sessions_after_the_configured_hours() -> None:
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_COOKIE_HTTPONLY and settings.SESSION_COOKIE_SAMESITE == "Lax"


@pytest.mark.django_db
def test_it_asks_to_sign_in_again_once_the_session_expired(people: dict[str, Any]) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        sign_in(client, "alice")
        assert client.get(reverse("core:home")).status_code == 200
    with time_machine.travel(
        NOW + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - 60), tick=False
    ):
        assert client.get(reverse("core:home")).status_code == 200
    with time_machine.travel(
        NOW + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE + 60), tick=False
    ):
        response = client.get(reverse("core:home"))
        assert response.status_code == 302 and response["Location"].startswith(
            reverse("accounts:login")
        )


# --- Second factor ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_asks_a_device_holder_for_a_code_after_the_password(
    people: dict[str, Any], device: TOTPDevice
) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        sign_in(client, "alice")
        response = client.get(reverse("accounts:settings"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:otp_verify"))
        page = client.get(response["Location"])
        assert page.status_code == 200

        done = client.post(response["Location"], {"token": code_for(device)})
        assert done.status_code == 302 and done["Location"] == reverse("accounts:settings")
        assert client.get(reverse("accounts:settings")).status_code == 200
    assert "accounts.otp.verified" in actions(actor=people["admin"])


@pytest.mark.django_db
def test_it_refuses_a_wrong_or_replayed_code(people: dict[str, Any], device: TOTPDevice) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        sign_in(client, "alice")
        wrong = client.post(
            reverse("accounts:otp_verify"),
            {"token": "000000" if code_for(device) != "000000" else "111111"},
        )
        assert wrong.status_code == 200
        assert client.get(reverse("core:home")).status_code == 302
    assert "accounts.otp.failed" in actions(actor=people["admin"])

    # After the throttle delay the right code works, once.
    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        code = code_for(device)
        assert client.post(reverse("accounts:otp_verify"), {"token": code}).status_code == 302
        other = Client()
        sign_in(other, "alice")
        assert other.post(reverse("accounts:otp_verify"), {"token": code}).status_code == 200


@pytest.mark.django_db
def test_it_makes_administrators_enrol_when_the_school_requires_it(
    people: dict[str, Any], school: Any
) -> None:
    from tests.test_permissions import inline_code_in

    with all_schools():
        services.school_update_security(school=school, require_second_factor=True)
    client = Client()
    with time_machine.travel(NOW, tick=False):
        sign_in(client, "alice")
        to_verify = client.get(reverse("core:home"))
        assert to_verify["Location"].startswith(reverse("accounts:otp_verify"))
        to_setup = client.get(to_verify["Location"])
        assert to_setup.status_code == 302 and to_setup["Location"].startswith(
            reverse("accounts:otp_setup")
        )
        setup = client.get(to_setup["Location"])
        html = setup.content.decode()
        assert setup.status_code == 200
        assert "<svg" in html and 'class="otp-qr"' in html
        assert inline_code_in(html) == []

        pending = TOTPDevice.objects.get(user=people["admin"], confirmed=False)
        assert client.post(to_setup["Location"], {"token": "12345"}).status_code == 200  # malformed
        done = client.post(to_setup["Location"], {"token": code_for(pending)})
        assert done.status_code == 302
        assert client.get(reverse("core:home")).status_code == 200
    pending.refresh_from_db()
    assert pending.confirmed
    assert "accounts.otp.enabled" in actions(actor=people["admin"])


@pytest.mark.django_db
def test_it_does_not_require_a_factor_from_roles_outside_the_rule(
    people: dict[str, Any], school: Any
) -> None:
    with all_schools():
        services.school_update_security(school=school, require_second_factor=True)
    client = Client()
    sign_in(client, "tang")  # staff
    assert client.get(reverse("core:home")).status_code == 200
    sign_in(reviewer := Client(), "li")
    assert reviewer.get(reverse("core:home")).status_code == 302


@pytest.mark.django_db
def test_it_does_not_let_a_password_alone_replace_an_enrolled_device(
    people: dict[str, Any], device: TOTPDevice
) -> None:
    client = Client()
    sign_in(client, "alice")
    response = client.get(reverse("accounts:otp_setup"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:otp_verify")
    assert client.post(reverse("accounts:otp_disable")).status_code == 302
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


@pytest.mark.django_db
def test_it_lets_a_verified_person_turn_an_optional_factor_off(
    people: dict[str, Any], device: TOTPDevice
) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        sign_in(client, "alice")
        client.post(reverse("accounts:otp_verify"), {"token": code_for(device)})
        assert client.post(reverse("accounts:otp_disable")).status_code == 302
    assert not TOTPDevice.objects.filter(user=people["admin"]).exists()
    assert "accounts.otp.disabled" in actions(actor=people["admin"])


# --- Passwords -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_makes_a_person_replace_a_generated_password(school: Any) -> None:
    with all_schools():
        user, password = services.user_create(school=school, username="newbie", roles=("staff",))
    assert user.must_change_password
    client = Client()
    sign_in(client, "newbie", password)
    response = client.get(reverse("core:home"))
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:password_change")
    )
    new = "Brand-new-Passw0rd"
    changed = client.post(
        reverse("accounts:password_change"),
        {"old_password": password, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    assert client.get(reverse("core:home")).status_code == 200  # still signed in
    user.refresh_from_db()
    assert not user.must_change_password and user.check_password(new)


@pytest.mark.django_db
def test_it_rejects_weak_passwords_with_chinese_messages(people: dict[str, Any]) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(people["staff"])
    for weak, code_hint in (
        ("short1!", "太短"),
        ("12345678901", "全都是数字"),
        ("password123", "常见"),
    ):
        response = client.post(
            reverse("accounts:password_change"),
            {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
        )
        assert response.status_code == 200
        assert code_hint in response.content.decode(), weak
    # Our own rule: three character classes.
    form = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "onlylowercaseletters",
            "new_password2": "onlylowercaseletters",
        },
    ).context["form"]
    assert any(e.code == "password_too_simple" for e in form.errors.as_data()["new_password2"])


def test_it_generates_passwords_that_pass_every_validator() -> None:
    from django.contrib.auth.password_validation import validate_password

    for _ in range(50):
        validate_password(services.generate_password())


@pytest.mark.django_db
def test_it_shows_a_one_time_password_once(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["admin"])
    response = client.post(
        reverse("accounts:user_create"),
        {"username": "zhang", "display_name": "张老师", "roles": ["handler"]},
        follow=True,
    )
    assert response.status_code == 200
    password = response.context["one_time_password"]
    assert password and password in response.content.decode()
    again = client.get(response.redirect_chain[-1][0])
    assert password not in again.content.decode()
    with all_schools():
        from yuqing.accounts.models import User

        zhang = User.objects.get(username="zhang")
    assert zhang.check_password(password) and zhang.must_change_password
    assert zhang.has_role("handler") and zhang.school_id == people["admin"].school_id


@pytest.mark.django_db
def test_it_records_timestamps_in_the_shanghai_zone() -> None:
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"
