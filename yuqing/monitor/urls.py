"""Monitor URLs: the desk (mentions, events, corrections) and the set-up (sources, schemes,
imports, manual entry), kept in two modules so each part has one owner."""

from django.urls import include, path

app_name = "monitor"
urlpatterns = [
    path("", include("yuqing.monitor.urls_desk")),
    path("setup/", include("yuqing.monitor.urls_setup")),
]
