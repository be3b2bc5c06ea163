from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "yuqing.audit"
    label = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from yuqing.audit import signals  # noqa: F401  (records changes of audited models)
