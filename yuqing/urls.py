from django.urls import include, path

urlpatterns = [
    path("", include("yuqing.core.urls")),
    path("accounts/", include("yuqing.accounts.urls")),
    path("audit/", include("yuqing.audit.urls")),
    path("monitor/", include("yuqing.monitor.urls")),
    path("alerts/", include("yuqing.alerts.urls")),
    path("cases/", include("yuqing.cases.urls")),
    path("publishing/", include("yuqing.publishing.urls")),
    path("security/", include("yuqing.security.urls")),
    path("duty/", include("yuqing.duty.urls")),
    path("reports/", include("yuqing.reports.urls")),
    path("api/", include("yuqing.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

handler403 = "yuqing.core.views.permission_denied"
handler404 = "yuqing.core.views.page_not_found"
