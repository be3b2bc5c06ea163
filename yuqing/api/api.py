"""The JSON API (django-ninja): push mentions in, read mentions and events out.

Every call carries ``Authorization: Bearer <token>``; a token belongs to one school, and the
call runs in that school's scope, so no query can reach another school's rows. There is no
session authentication here: a signed-in browser gets 401 like anyone without a token.
The OpenAPI document is at ``/api/v1/openapi.json``; ninja's Swagger page is off (it loads
from a CDN, which neither the CSP nor an offline intranet allows) and ``/api/v1/docs/`` is a
small server-rendered page instead. Alerts are not exposed yet: the alerts app has no models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.security import HttpBearer
from pydantic import field_validator, model_validator

from yuqing.core.context import Actor, acting_as, client_ip
from yuqing.core.tenancy import school_scope
from yuqing.lib.urls import is_http_url
from yuqing.monitor.models import ApiToken, Event, Mention
from yuqing.monitor.services import IncomingItem
from yuqing.monitor.setup_services import PUSH_MAX_ITEMS, api_token_authenticate, mentions_push

SourceTypeName = Literal["news", "weibo", "wechat", "forum", "video", "qa", "petition", "other"]


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return api_token_authenticate(token.strip())


api = NinjaAPI(
    title="Yuqing API",
    version="1",
    description=(
        "Push mentions from other collectors; read mentions and events. Authenticate with "
        "`Authorization: Bearer <token>` (tokens are created by a school administrator under "
        "Monitor → API tokens). Every call sees and writes one school only."
    ),
    urls_namespace="api:v1",
    docs_url=None,
    openapi_url="/openapi.json",
    auth=TokenAuth(),
)


@contextmanager
def acting_for(request: HttpRequest) -> Iterator[ApiToken]:
    """The token's school scope and an audit actor naming the token."""
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    actor = Actor(
        user=None,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
        name=f"api-token:{token.name}"[:150],
    )
    with school_scope(token.school_id), acting_as(actor):
        yield token


class Problem(Schema):
    detail: str


# -- push ---------------------------------------------------------------------------------------


class PushItem(Schema):
    url: str = Field("", max_length=2000, description="Link to the original post (http or https)")
    title: str = Field("", max_length=500)
    text: str = Field("", max_length=100_000)
    author: str = Field("", max_length=200, description="As the source shows it")
    published_at: datetime | None = Field(
        None, description="ISO 8601; without an offset it is China time"
    )
    source_type: SourceTypeName | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value and not is_http_url(value):
            raise ValueError("url must be an http:// or https:// address")
        return value

    @model_validator(mode="after")
    def _has_content(self) -> PushItem:
        if not self.title.strip() and not self.text.strip():
            raise ValueError("an item needs a title or a text")
        return self


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)  # the deployment's zone, Asia/Shanghai
    return value


class PushIn(Schema):
    items: list[PushItem] = Field(..., min_length=1, max_length=PUSH_MAX_ITEMS)


class PushOut(Schema):
    received: int = Field(description="Items in the request")
    new: int = Field(description="Stored as new mentions")
    duplicates: int = Field(description="Already stored (same URL or content): not stored again")
    unmatched: int = Field(description="Matched no scheme of the school: not stored")
    mention_ids: list[int]


@api.post(
    "/mentions",
    response={200: PushOut, 403: Problem, 422: Problem},
    url_name="mentions",
    summary="Push mentions",
)
def push_mentions(request: HttpRequest, payload: PushIn) -> Any:
    """Store items as mentions of the token's school. Idempotent: an item with a URL or
    content already stored is counted as a duplicate, so a retried request adds nothing."""
    with acting_for(request) as token:
        if not token.can_push:
            return Status(403, {"detail": "this token may not push mentions"})
        items = [
            IncomingItem(
                text=item.text,
                title=item.title,
                url=item.url,
                author=item.author,
                published_at=_aware(item.published_at),
                source_type=item.source_type or "",
            )
            for item in payload.items
        ]
        try:
            result = mentions_push(token=token, items=items)
        except ValidationError as exc:
            return Status(422, {"detail": " ".join(exc.messages)})
        return Status(
            200,
            {
                "received": result.seen,
                "new": result.new,
                "duplicates": result.duplicates,
                "unmatched": result.unmatched,
                "mention_ids": result.mention_ids,
            },
        )


# -- read -----------------------------------------------------------------------------------------


class MentionOut(Schema):
    id: int
    url: str
    title: str
    text: str
    author: str
    source: str
    source_type: str
    published_at: datetime | None
    fetched_at: datetime
    sentiment: str
    topic: str
    risk: int = Field(description="0 none, 1 blue, 2 yellow, 3 orange, 4 red")
    relevant: bool
    event_id: int | None
    status: str


class MentionPage(Schema):
    items: list[MentionOut]
    next_after: int | None = Field(description="Pass as `after` to get the next page")


class MentionFilter(Schema):
    after: int = Field(0, ge=0, description="Only mentions with a larger id (oldest first)")
    limit: int = Field(100, ge=1, le=500)
    risk_min: int | None = Field(None, ge=0, le=4)
    event_id: int | None = None


def _mention(m: Mention) -> dict[str, Any]:
    return {
        "id": m.pk,
        "url": m.url,
        "title": m.title,
        "text": m.text,
        "author": m.author,
        "source": m.source.name,
        "source_type": m.source_type,
        "published_at": m.published_at,
        "fetched_at": m.fetched_at,
        "sentiment": m.sentiment,
        "topic": m.topic,
        "risk": m.risk,
        "relevant": m.relevant,
        "event_id": m.event_id,
        "status": m.status,
    }


@api.get(
    "/mentions",
    response={200: MentionPage, 403: Problem},
    url_name="mentions",
    summary="Read mentions",
)
def list_mentions(request: HttpRequest, filters: Query[MentionFilter]) -> Any:
    """Mentions in the order they were stored; page with `after` = the last id seen."""
    with acting_for(request) as token:
        if not token.can_read:
            return Status(403, {"detail": "this token may not read"})
        qs = Mention.objects.select_related("source").filter(pk__gt=filters.after)
        if filters.risk_min is not None:
            qs = qs.filter(risk__gte=filters.risk_min)
        if filters.event_id is not None:
            qs = qs.filter(event_id=filters.event_id)
        page = list(qs.order_by("id")[: filters.limit])
        return Status(
            200,
            {
                "items": [_mention(m) for m in page],
                "next_after": page[-1].pk if len(page) == filters.limit else None,
            },
        )


class EventOut(Schema):
    id: int
    title: str
    summary: str
    first_at: datetime
    latest_at: datetime
    mention_count: int
    negative_count: int
    peak_risk: int
    status: str


class EventFilter(Schema):
    since: datetime | None = Field(None, description="Only events with a mention since then")
    status: Literal["open", "watching", "closed"] | None = None
    limit: int = Field(100, ge=1, le=500)


@api.get(
    "/events",
    response={200: list[EventOut], 403: Problem},
    url_name="events",
    summary="Read events",
)
def list_events(request: HttpRequest, filters: Query[EventFilter]) -> Any:
    """Events (stories made of several mentions), most recently active first."""
    with acting_for(request) as token:
        if not token.can_read:
            return Status(403, {"detail": "this token may not read"})
        qs = Event.objects.all()
        if filters.since is not None:
            qs = qs.filter(latest_at__gte=filters.since)
        if filters.status:
            qs = qs.filter(status=filters.status)
        return Status(
            200,
            list(
                qs.order_by("-latest_at").values(
                    "id",
                    "title",
                    "summary",
                    "first_at",
                    "latest_at",
                    "mention_count",
                    "negative_count",
                    "peak_risk",
                    "status",
                )[: filters.limit]
            ),
        )
