from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "yuqing.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from yuqing.core import db  # noqa: F401  (connects the SQLite connection tuning)
