from django.urls import path

from yuqing.cases import erasure_views
from yuqing.core import views, views_retention

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("settings/retention/", views_retention.retention_settings, name="retention"),
    path("settings/personal-data/", erasure_views.person_data, name="person_data"),
]
