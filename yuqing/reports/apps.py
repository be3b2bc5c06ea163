from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_rollup(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    from yuqing.reports import rollup

    rollup.ensure(connections[using])


class ReportsConfig(AppConfig):
    name = "yuqing.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        post_migrate.connect(_ensure_rollup, sender=self, dispatch_uid="reports-rollup")
